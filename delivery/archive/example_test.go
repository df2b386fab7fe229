package archive_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/callrec/callrec/delivery"
	"github.com/callrec/callrec/delivery/archive"
)

// Example delivers one recording with an HTTPSink into an archive and
// finds it again by a part of the caller's number written the E.164 way.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "archive-example")
	defer os.RemoveAll(dir)
	a, err := archive.Open(ctx, archive.Config{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	srv := httptest.NewServer(a.Ingest())
	defer srv.Close()
	sink, _ := delivery.NewHTTPSink(delivery.HTTPSinkConfig{URL: srv.URL, Method: http.MethodPost})
	defer sink.Close()
	if err := sink.Deliver(ctx, fixtures[0].item(stereoWAV(fixtures[0].dur, 440, 660))); err != nil {
		fmt.Println(err)
		return
	}
	page, err := a.Store().Search(ctx, archive.Query{Number: "+81 3 1234"})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range page.Recordings {
		fmt.Println(r.ID, r.Caller, r.AudioPath)
	}
	// Output:
	// r1 0312345678 2026/11/23/call-r1@pbx.wav
}

// ExampleArchive_Web serves the archive's web UI (with ingest on
// /ingest/) and shows that pages need a login.
func ExampleArchive_Web() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "archive-web-example")
	defer os.RemoveAll(dir)
	a, err := archive.Open(ctx, archive.Config{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	if err := a.SetUser(ctx, archive.User{Name: "sato", Role: archive.RoleAgent, Lines: []string{"03-1234-5678"}}, "a long password"); err != nil {
		fmt.Println(err)
		return
	}
	web, err := a.Web(archive.WebConfig{InsecureCookies: true}) // plain HTTP on loopback only
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(web)
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.URL + "/calls/r1")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Location"))
	// Output:
	// 303 /login?next=%2Fcalls%2Fr1
}
