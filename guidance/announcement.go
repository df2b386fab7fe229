package guidance

import (
	"fmt"
	"strings"
)

// DefaultCarrier is the carrier name the standard announcements use and the
// embedded prompts speak.
const DefaultCarrier = "KDDI"

// CarrierPlaceholder is the token that [Announcement.Template] and
// [Announcement.GlossTemplate] contain where the carrier name goes.
const CarrierPlaceholder = "{carrier}"

// Purpose is the purpose of recording that an announcement states. These
// are the purposes a company declares under Japan's Act on the Protection of
// Personal Information when it records calls.
type Purpose uint8

// The five purposes, one per announcement.
const (
	// PurposeGeneral states only that the call is recorded (announcement 1).
	PurposeGeneral Purpose = iota + 1
	// PurposeTransactionConfirmation records to confirm the details of a
	// transaction (announcement 2).
	PurposeTransactionConfirmation
	// PurposeAccuracy records to take the caller's request accurately
	// (announcement 3).
	PurposeAccuracy
	// PurposeDisputePrevention records to prevent disputes (announcement 4).
	PurposeDisputePrevention
	// PurposeServiceImprovement records to improve the service
	// (announcement 5).
	PurposeServiceImprovement
)

var purposeNames = [...]struct{ en, ja string }{
	PurposeGeneral:                 {"general", "通話録音"},
	PurposeTransactionConfirmation: {"transaction confirmation", "お取引内容確認"},
	PurposeAccuracy:                {"accuracy", "内容の正確な承り"},
	PurposeDisputePrevention:       {"dispute prevention", "トラブル防止"},
	PurposeServiceImprovement:      {"service improvement", "サービスの向上"},
}

// String returns the purpose in English, e.g. "dispute prevention".
func (p Purpose) String() string {
	if p < PurposeGeneral || p > PurposeServiceImprovement {
		return fmt.Sprintf("Purpose(%d)", uint8(p))
	}
	return purposeNames[p].en
}

// Japanese returns the purpose as the announcements phrase it, e.g.
// "トラブル防止".
func (p Purpose) Japanese() string {
	if p < PurposeGeneral || p > PurposeServiceImprovement {
		return p.String()
	}
	return purposeNames[p].ja
}

// Announcement is one of the five recording announcements. Its ID and
// Purpose are fixed; its texts name the carrier through
// [CarrierPlaceholder], filled in by [Announcement.Text] and
// [Announcement.Gloss].
type Announcement struct {
	// ID is the announcement number, 1 to 5, as chosen per contract.
	ID int
	// Purpose is the purpose of recording the announcement states.
	Purpose Purpose
	// Template is the Japanese text with CarrierPlaceholder for the carrier.
	Template string
	// GlossTemplate is an English gloss of Template, with the same
	// placeholder.
	GlossTemplate string
}

// NumAnnouncements is the number of standard announcements; IDs run from 1
// to NumAnnouncements.
const NumAnnouncements = 5

var announcements = [NumAnnouncements]Announcement{
	{1, PurposeGeneral,
		"この通話は{carrier}の通話録音サービスを利用して録音させていただきます。",
		"This call will be recorded using {carrier}'s call recording service."},
	{2, PurposeTransactionConfirmation,
		"この通話はお取引内容確認のため、{carrier}のサービスを利用して録音させていただきます。",
		"To confirm the details of your transaction, this call will be recorded using {carrier}'s service."},
	{3, PurposeAccuracy,
		"この通話は内容を正確に承るため、{carrier}のサービスを利用して録音させていただきます。",
		"So that we take your request accurately, this call will be recorded using {carrier}'s service."},
	{4, PurposeDisputePrevention,
		"この通話はトラブル防止のため、{carrier}のサービスを利用して録音させていただきます。",
		"To prevent disputes, this call will be recorded using {carrier}'s service."},
	{5, PurposeServiceImprovement,
		"この通話はサービスの向上を目的とし、{carrier}のサービスを利用して録音させていただきます。",
		"To improve our service, this call will be recorded using {carrier}'s service."},
}

// Announcements returns the five announcements in ID order. The slice is a
// fresh copy that the caller may modify.
func Announcements() []Announcement {
	out := make([]Announcement, NumAnnouncements)
	copy(out, announcements[:])
	return out
}

// Lookup returns the announcement with the given ID. An ID outside 1–5
// yields an error wrapping [ErrUnknownAnnouncement].
func Lookup(id int) (Announcement, error) {
	if id < 1 || id > NumAnnouncements {
		return Announcement{}, fmt.Errorf("%w: id %d (want 1-%d)", ErrUnknownAnnouncement, id, NumAnnouncements)
	}
	return announcements[id-1], nil
}

// Text returns the Japanese text with the carrier name filled in; an empty
// carrier means [DefaultCarrier].
func (a Announcement) Text(carrier string) string {
	return fillCarrier(a.Template, carrier)
}

// Gloss returns the English gloss with the carrier name filled in; an empty
// carrier means [DefaultCarrier].
func (a Announcement) Gloss(carrier string) string {
	return fillCarrier(a.GlossTemplate, carrier)
}

func fillCarrier(template, carrier string) string {
	if carrier == "" {
		carrier = DefaultCarrier
	}
	return strings.ReplaceAll(template, CarrierPlaceholder, carrier)
}

// checkCarrier validates a configured carrier name.
func checkCarrier(field, carrier string) error {
	if carrier != strings.TrimSpace(carrier) || strings.ContainsFunc(carrier, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fmt.Errorf("%w: %s: %q has surrounding space or control characters", ErrInvalidConfig, field, carrier)
	}
	return nil
}
