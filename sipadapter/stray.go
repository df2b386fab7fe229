package sipadapter

import (
	"context"
	"log/slog"

	"github.com/emiago/sipgo/sip"
)

// strayResponse logs, at debug level, a response that matches no client
// transaction: a retransmission that came after its transaction ended
// (the 200 of a BYE sent twice because the first 200 was late). sipgo's
// default handler logs each at info level on the process's default logger,
// outside the B2BUA's log.
func strayResponse(log *slog.Logger, res *sip.Response) {
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	cseq := ""
	if h := res.CSeq(); h != nil {
		cseq = h.Value()
	}
	log.Debug("response matching no transaction", "status", res.StatusCode, "cseq", cseq, "source", res.Source())
}
