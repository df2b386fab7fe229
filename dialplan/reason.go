package dialplan

// reasonText is a decision's explanation in English and Japanese. The texts
// are constants so that a decision costs no allocation.
type reasonText struct{ en, ja string }

var (
	reasonRecord = reasonText{
		"dialled with the recording prefix: the prefix is stripped and the call is recorded",
		"録音用プレフィックス付きの発信のため、プレフィックスを除いて接続し録音します",
	}
	reasonUnprefixed = reasonText{
		"dialled without a recording prefix: connected unrecorded",
		"録音用プレフィックスなしの発信のため、録音せずに接続します",
	}
	reasonExtension = reasonText{
		"extension call: never recorded",
		"内線通話は録音しません",
	}
	reasonRoaming = reasonText{
		"call made while roaming abroad: never recorded",
		"海外ローミング中の発信は録音しません",
	}
	reasonEmergency = reasonText{
		"emergency number: route it at once without the recording prefix; emergency calls are never recorded",
		"緊急通報番号です。録音用プレフィックスを付けずに直ちに発信してください（録音されません）",
	}
	reasonRestricted050 = reasonText{
		"a 050 line cannot call freecall (0120, 0800) or navi dial (0570) numbers",
		"050番号の回線からはフリーダイヤル（0120・0800）およびナビダイヤル（0570）に発信できません",
	}
	reasonNoDestination = reasonText{
		"nothing was dialled after the recording prefix",
		"録音用プレフィックスの後に番号がありません",
	}
	reasonNotNational = reasonText{
		"only a national number starting with 0 can follow the recording prefix: dial this number again without the prefix, unrecorded, or dial the full number with its area code to record it",
		"録音用プレフィックスの後には0から始まる番号が必要です。この番号はプレフィックスなしで発信してください（録音されません）。録音する場合は市外局番から発信してください",
	}
	reasonUnknownLine = reasonText{
		"the calling line is neither a fixed nor a mobile line",
		"発信回線の種別（固定・携帯）が不明です",
	}
	reasonJunk = reasonText{
		"the input is not a telephone number",
		"電話番号として認識できません",
	}
	reasonIncomingRecord = reasonText{
		"call to the company's fixed number: recorded",
		"会社の固定番号への着信のため録音します",
	}
	reasonIncomingForwarded = reasonText{
		"forwarded call originally placed to the company's fixed number: recorded",
		"会社の固定番号から転送された着信のため録音します",
	}
	reasonIncomingFreecall = reasonText{
		"call to the company's freecall number: recorded",
		"会社のフリーダイヤル番号への着信のため録音します",
	}
	reasonIncomingExtension = reasonText{
		"incoming call to a recorded extension over the business extension network: recorded",
		"内線網経由の録音対象内線への着信のため録音します",
	}
	reasonRecordAll = reasonText{
		"the line records every call: recorded as if dialled with the recording prefix",
		"全通話録音の回線のため、録音用プレフィックス付きの発信と同様に録音します",
	}
	reasonOnDemand = reasonText{
		"on-demand line: connected unrecorded until the user starts the recording",
		"オンデマンド録音の回線のため、録音開始の操作があるまで録音せずに接続します",
	}
	reasonUnknownMode = reasonText{
		"the line's record mode is unknown",
		"回線の録音モードが不明です",
	}
	reasonIncomingMobile = reasonText{
		"call to a mobile number: not recorded",
		"携帯電話番号への着信は録音しません",
	}
	reasonIncomingOther = reasonText{
		"call to a number that is not one of the company's fixed numbers: not recorded",
		"会社の固定番号以外への着信は録音しません",
	}
)

// notRecordableReasons explains, per class, why a prefixed call cannot reach it.
var notRecordableReasons = [...]reasonText{
	ClassService: {
		"service numbers (1XY, 184/186, # and * dialling) cannot be called with the recording prefix: dial again without it, unrecorded",
		"サービス番号（1XY・184/186・#・*）には録音用プレフィックスを付けて発信できません。プレフィックスなしで発信してください（録音されません）",
	},
	ClassCarrierCode: {
		"carrier selection codes cannot follow the recording prefix: dial again without it, unrecorded",
		"事業者識別番号には録音用プレフィックスを付けて発信できません。プレフィックスなしで発信してください（録音されません）",
	},
	ClassOther0A0: {
		"020, 0600 and unassigned 0A0 numbers cannot be called with the recording prefix: dial again without it, unrecorded",
		"020・0600などの番号には録音用プレフィックスを付けて発信できません。プレフィックスなしで発信してください（録音されません）",
	},
	ClassOther0AB0: {
		"0170, 0180, 0990 and 091 numbers cannot be called with the recording prefix: dial again without it, unrecorded",
		"0170・0180・0990・091の番号には録音用プレフィックスを付けて発信できません。プレフィックスなしで発信してください（録音されません）",
	},
	ClassLocal: {
		"a local number needs its area code after the recording prefix; without the prefix it is connected unrecorded",
		"録音用プレフィックスを付ける場合は市外局番から発信してください。プレフィックスなしの場合は録音されません",
	},
	ClassExtension: {
		"extensions cannot be called with the recording prefix: dial the extension alone, unrecorded",
		"内線番号には録音用プレフィックスを付けて発信できません。内線番号のみで発信してください（録音されません）",
	},
}

// invalidReasons explains, per the class a number looks like, what is wrong
// with its length.
var invalidReasons = [...]reasonText{
	ClassGeographic: {
		"a geographic number has 10 digits including the area code",
		"固定電話番号は市外局番を含めて10桁です",
	},
	ClassIPPhone: {
		"a 050 number has 11 digits and its fourth digit is never 0",
		"050番号は11桁で、4桁目は0以外です",
	},
	ClassMobile: {
		"a mobile number (060, 070, 080, 090) has 11 digits and its fourth digit is never 0",
		"携帯電話番号（060・070・080・090）は11桁で、4桁目は0以外です",
	},
	ClassFreecall: {
		"a freecall number has 10 digits (0120) or 11 digits (0800)",
		"フリーダイヤルは0120が10桁、0800が11桁です",
	},
	ClassNaviDial: {
		"a navi dial number (0570) has 10 digits",
		"ナビダイヤル（0570）は10桁です",
	},
	ClassInternational: {
		"an international call is 010 followed by 7 to 15 digits of country code and number",
		"国際電話は010の後に国番号と相手番号を7〜15桁で続けます",
	},
	ClassOther0A0: {
		"020 and 0600 numbers have 11 digits (0200: 14 digits)",
		"020・0600番号は11桁（0200は14桁）です",
	},
	ClassOther0AB0: {
		"0170, 0180 and 0990 numbers have 10 digits",
		"0170・0180・0990番号は10桁です",
	},
	ClassCarrierCode: {
		"a carrier selection code is incomplete",
		"事業者識別番号が不完全です",
	},
	ClassInvalid: {
		"the number has no valid length or shape under the national numbering plan",
		"番号の桁数または形式が正しくありません",
	},
}

// mismatchReasons returns the explanations of a prefix used on the wrong
// kind of line, naming the plan's own prefixes. A Plan builds them once so
// that a decision does not allocate.
func mismatchReasons(mobilePrefix, fixedPrefix string) (onMobileLine, onFixedLine reasonText) {
	m, f := displayPrefix(mobilePrefix), displayPrefix(fixedPrefix)
	onMobileLine = reasonText{
		"the prefix " + f + " is for fixed lines: from a mobile line dial " + m,
		f + "は固定回線用のプレフィックスです。携帯電話回線からは" + m + "を付けて発信してください",
	}
	onFixedLine = reasonText{
		"the prefix " + m + " is for mobile lines: from a fixed line dial " + f,
		m + "は携帯電話回線用のプレフィックスです。固定回線からは" + f + "を付けて発信してください",
	}
	return onMobileLine, onFixedLine
}

// displayPrefix writes a normalised recording prefix as people read it: the
// carrier identification code, a hyphen, the rest (007726 → 0077-26).
func displayPrefix(p string) string {
	code := carrierCodeLen(p)
	if len(p) <= code {
		return p
	}
	return p[:code] + "-" + p[code:]
}

func invalidReason(looksAs Class) reasonText {
	if int(looksAs) < len(invalidReasons) && invalidReasons[looksAs].en != "" {
		return invalidReasons[looksAs]
	}
	return invalidReasons[ClassInvalid]
}
