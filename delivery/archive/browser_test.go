package archive_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/callrec/callrec/delivery/archive"
	"github.com/callrec/callrec/internal/testenv"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBrowser drives Debian's chromium (headless, loopback only): an agent
// logs in, searches by a partial number, opens the call, plays it (the
// audio element's time advances), mutes the caller's channel; another
// agent gets 404 for that call. ARCHIVE_SCREENSHOT=path saves the call
// page's screenshot (the README's picture).
func TestBrowser(t *testing.T) {
	chromium := testenv.LookPath(t, "chromium", "chromium")
	e := newWebEnv(t, archive.WebConfig{})

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("mute-audio", true),
		chromedp.NoSandbox, // root in CI containers; the pages are our own, on loopback
		chromedp.WindowSize(1280, 1000),
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()

	login := func(ctx context.Context, user string) error {
		return chromedp.Do(ctx,
			chromedp.Navigate(e.srv.URL+"/login"),
			chromedp.WaitVisible(chromedp.ID("user")),
			chromedp.SendKeys(chromedp.ID("user"), user),
			chromedp.SendKeys(chromedp.ID("password"), testPassword),
			chromedp.Click(chromedp.ID("login-submit")),
			chromedp.WaitVisible(chromedp.ID("search-form")),
		)
	}
	awaitPromise := chromedp.EvalAwaitPromise

	tokyo, cancelTokyo := chromedp.NewContext(alloc)
	defer cancelTokyo()
	require.NoError(t, login(tokyo, "tokyo"))
	require.NoError(t, chromedp.Do(tokyo,
		chromedp.SendKeys(chromedp.ID("number"), "3333"),
		chromedp.Click(chromedp.ID("search-submit")),
		chromedp.WaitVisible(chromedp.CSS("a.call-link")),
	))
	href, err := chromedp.Run(tokyo, chromedp.AttributeValue(chromedp.CSS("a.call-link"), "href"))
	require.NoError(t, err)
	require.Equal(t, "/calls/r2", href.Value, "the partial number finds Tokyo's incoming call")
	require.NoError(t, chromedp.Do(tokyo,
		chromedp.Click(chromedp.CSS("a.call-link")),
		chromedp.WaitVisible(chromedp.ID("audio")),
	))
	caller, err := chromedp.Run(tokyo, chromedp.Text(chromedp.ID("caller")))
	require.NoError(t, err)
	assert.Equal(t, "09033334444", caller)

	played, err := chromedp.Run(tokyo, chromedp.Evaluate[bool](`document.getElementById("audio").play().then(() => true)`, awaitPromise))
	require.NoError(t, err)
	require.True(t, played)
	var now float64
	deadline := time.Now().Add(15 * time.Second)
	for now < 0.5 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		now, err = chromedp.Run(tokyo, chromedp.Evaluate[float64](`document.getElementById("audio").currentTime`))
		require.NoError(t, err)
	}
	require.Greater(t, now, 0.5, "the audio element's time advances")

	require.NoError(t, chromedp.Do(tokyo, chromedp.Click(chromedp.ID("mute-0"))))
	gains, err := chromedp.Run(tokyo, chromedp.Evaluate[[]float64](`window.callrecPlayer.graphGains()`))
	require.NoError(t, err)
	assert.Equal(t, []float64{0, 1}, gains, "the caller's channel is muted in the Web Audio graph")
	pressed, err := chromedp.Run(tokyo, chromedp.AttributeValue(chromedp.ID("mute-0"), "aria-pressed"))
	require.NoError(t, err)
	assert.Equal(t, "true", pressed.Value)
	if path := os.Getenv("ARCHIVE_SCREENSHOT"); path != "" {
		// In English: the machines that run this test often have no
		// Japanese font, and the picture is for the README.
		require.NoError(t, chromedp.Do(tokyo,
			chromedp.Navigate(e.srv.URL+"/lang?to=en&back=/calls/r2"),
			chromedp.WaitVisible(chromedp.ID("audio")),
			chromedp.Click(chromedp.ID("mute-0")),
		))
		png, err := chromedp.Run(tokyo, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, png, 0o644))
	}
	assert.True(t, auditHas(t, e.a, archive.AuditEntry{User: "tokyo", Action: archive.ActionPlay, Target: "r2"}))

	// Another agent, in a fresh browser context (no shared cookies).
	osaka, cancelOsaka := chromedp.NewContext(tokyo, chromedp.WithNewBrowserContext())
	defer cancelOsaka()
	require.NoError(t, login(osaka, "osaka"))
	require.NoError(t, chromedp.Do(osaka,
		chromedp.Navigate(e.srv.URL+"/calls/r2"),
		chromedp.WaitVisible(chromedp.ID("message")),
	))
	msg, err := chromedp.Run(osaka, chromedp.Text(chromedp.ID("message")))
	require.NoError(t, err)
	assert.True(t, strings.Contains(msg, "見つかりません"), msg)
	status, err := chromedp.Run(osaka, chromedp.Evaluate[int](`fetch("/calls/r2/audio").then(r => r.status)`, awaitPromise))
	require.NoError(t, err)
	assert.Equal(t, 404, status)
}
