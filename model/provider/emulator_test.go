package provider

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/httpx"
	"github.com/newsroom-dev/newsroom/model"
)

func startEmulator(t *testing.T, cfg emulator.Config, useTLS bool) *emulator.Running {
	t.Helper()
	e, err := emulator.Start(cfg, emulator.Options{TLS: useTLS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// trusting returns a client over the shared tuned transport that trusts the
// emulator's test certificate.
func trusting(e *emulator.Running) *http.Client {
	tr := httpx.NewTransport(httpx.Options{})
	tr.TLSClientConfig = &tls.Config{RootCAs: e.CertPool(), MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}
}

func reporterRequest() *model.Request {
	return &model.Request{
		Messages: []model.Message{
			{Role: model.RoleSystem, Content: "You are News_Reporter. You write news articles based on given facts; keep the article short."},
			{Role: model.RoleUser, Name: "user", Content: "Write a short article: the town fair opened on Saturday with 40 stalls."},
		},
	}
}

func TestEmulator_BearerTokenOverTLS(t *testing.T) {
	e := startEmulator(t, emulator.Config{APIKey: "emu-key", TokenValidator: func(tok string) bool { return tok == "entra-tok" }}, true)
	cred := &fakeCredential{token: "entra-tok"}
	c, err := New(Config{Endpoint: e.URL, Deployment: "gpt-4o", Credential: cred, HTTPClient: trusting(e)})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Complete(context.Background(), reporterRequest())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Content == "" || resp.Model == "" || resp.Usage.PromptTokens == 0 || resp.Usage.CompletionTokens == 0 || resp.Usage.Requests != 1 {
		t.Errorf("response = %+v", resp)
	}
	reqs := e.Requests()
	if len(reqs) != 1 {
		t.Fatalf("emulator saw %d requests", len(reqs))
	}
	got := reqs[0]
	// The default API is v1: no api-version, the deployment in the body.
	want := emulator.RecordedRequest{Method: http.MethodPost, Path: "/openai/v1/chat/completions",
		Deployment: "gpt-4o", Auth: emulator.AuthBearer, Status: http.StatusOK}
	if diff := cmp.Diff(want, got, cmpIgnoreBody); diff != "" {
		t.Errorf("recorded request (-want +got):\n%s", diff)
	}
}

var cmpIgnoreBody = cmp.FilterPath(func(p cmp.Path) bool {
	switch p.Last().String() {
	case ".Model", ".Messages", ".Stream", ".IncludeUsage", ".MaxTokens", ".Fault",
		".Completed", ".Answer", ".Start", ".End": // the answer, not the request's route and authentication
		return true
	}
	return false
}, cmp.Ignore())

// TestEmulator_APIKeyWithSSLCertFile verifies that certificates are checked
// against the system roots, so SSL_CERT_FILE works: no custom pool is given.
func TestEmulator_APIKeyWithSSLCertFile(t *testing.T) {
	e := startEmulator(t, emulator.Config{APIKey: "emu-key"}, true)
	pem := filepath.Join(t.TempDir(), "emulator.pem")
	if err := os.WriteFile(pem, e.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SSL_CERT_FILE", pem)
	t.Setenv("SSL_CERT_DIR", t.TempDir())
	c, err := New(Config{Endpoint: e.URL, Deployment: "dep", APIKey: "emu-key"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Complete(context.Background(), reporterRequest()); err != nil {
		// The system roots are loaded once per process: if another test
		// loaded them first, SSL_CERT_FILE is not read again.
		if strings.Contains(err.Error(), "certificate") {
			t.Skipf("system roots were loaded before SSL_CERT_FILE was set: %v", err)
		}
		t.Fatal(err)
	}
	if got := e.Requests()[0].Auth; got != emulator.AuthAPIKey {
		t.Errorf("auth = %q, want api-key", got)
	}
}

func TestEmulator_WrongKey(t *testing.T) {
	e := startEmulator(t, emulator.Config{APIKey: "right-key"}, false)
	c, _ := New(Config{Endpoint: e.URL, Deployment: "dep", APIKey: "wrong-key-123"})
	_, err := c.Complete(context.Background(), reporterRequest())
	var me *model.Error
	if !errors.As(err, &me) || me.StatusCode != http.StatusUnauthorized || me.Code == "" {
		t.Fatalf("err = %#v, want a 401 with the service's code", err)
	}
	if strings.Contains(err.Error(), "wrong-key-123") || strings.Contains(err.Error(), "right-key") {
		t.Fatalf("error shows a key: %v", err)
	}
}

func TestEmulator_StreamingMatchesNonStreaming(t *testing.T) {
	e := startEmulator(t, emulator.Config{}, false)
	c, _ := New(Config{Endpoint: e.URL, Deployment: "dep", APIKey: "k"})
	plain, err := c.Complete(context.Background(), reporterRequest())
	if err != nil {
		t.Fatal(err)
	}
	var pieces []string
	req := reporterRequest()
	req.OnDelta = func(d model.Delta) { pieces = append(pieces, d.Text) }
	streamed, err := c.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(pieces) < 2 || strings.Join(pieces, "") != streamed.Content {
		t.Errorf("%d pieces joined = %q, content %q", len(pieces), strings.Join(pieces, ""), streamed.Content)
	}
	if streamed.Content != plain.Content || streamed.Usage != plain.Usage {
		t.Errorf("streamed %+v\n  plain %+v", streamed, plain)
	}
	last := e.Requests()[1]
	if !last.Stream || !last.IncludeUsage {
		t.Errorf("stream %v include_usage %v", last.Stream, last.IncludeUsage)
	}
}

func TestEmulator_Faults(t *testing.T) {
	tests := []struct {
		name   string
		cfg    emulator.Config
		stream bool
		check  func(t *testing.T, me *model.Error)
	}{
		{"429 carries the wait", emulator.Config{Faults: emulator.Faults{Rates: map[emulator.Fault]float64{emulator.Fault429: 1}}}, false,
			func(t *testing.T, me *model.Error) {
				if me.StatusCode != 429 || me.RetryAfter <= 0 {
					t.Errorf("status %d retry after %v", me.StatusCode, me.RetryAfter)
				}
			}},
		{"500", emulator.Config{Faults: emulator.Faults{Rates: map[emulator.Fault]float64{emulator.Fault500: 1}}}, false,
			func(t *testing.T, me *model.Error) {
				if me.StatusCode != 500 {
					t.Errorf("status %d", me.StatusCode)
				}
			}},
		{"cut stream", emulator.Config{Faults: emulator.Faults{Rates: map[emulator.Fault]float64{emulator.FaultCut: 1}}}, true,
			func(t *testing.T, me *model.Error) {
				if !errors.Is(me, model.ErrStreamCut) {
					t.Errorf("err = %v, want ErrStreamCut", me)
				}
			}},
		{"malformed chunk", emulator.Config{Faults: emulator.Faults{Rates: map[emulator.Fault]float64{emulator.FaultMalformed: 1}}}, true,
			func(t *testing.T, me *model.Error) {
				if !errors.Is(me, model.ErrStreamCut) {
					t.Errorf("err = %v, want ErrStreamCut", me)
				}
			}},
		{"content filter", emulator.Config{Faults: emulator.Faults{Rates: map[emulator.Fault]float64{emulator.FaultContentFilter: 1}}}, false,
			func(t *testing.T, me *model.Error) {
				if me.StatusCode != 400 || me.Code != "content_filter" {
					t.Errorf("status %d code %q", me.StatusCode, me.Code)
				}
			}},
		{"context length", emulator.Config{ContextWindow: 10}, false,
			func(t *testing.T, me *model.Error) {
				if me.StatusCode != 400 || me.Code != "context_length_exceeded" {
					t.Errorf("status %d code %q", me.StatusCode, me.Code)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := startEmulator(t, tc.cfg, false)
			c, _ := New(Config{Endpoint: e.URL, Deployment: "dep", APIKey: "k"})
			req := reporterRequest()
			if tc.stream {
				req.OnDelta = func(model.Delta) {}
			}
			_, err := c.Complete(context.Background(), req)
			var me *model.Error
			if !errors.As(err, &me) {
				t.Fatalf("err = %v (%T), want *model.Error", err, err)
			}
			tc.check(t, me)
			// A stream error happens after the response began, where the client
			// never retries; the emulator may still be finishing that request.
			if n := e.Count(); !tc.stream && n != 1 {
				t.Errorf("emulator saw %d requests, want 1 (no pipeline retries)", n)
			}
		})
	}
}

func TestEmulator_RateLimitHeaders(t *testing.T) {
	e := startEmulator(t, emulator.Config{Quota: emulator.Quota{RequestsPerMinute: 10, TokensPerMinute: 100000}}, false)
	var gotDep string
	var gotReq, gotTok int
	c, _ := New(Config{Endpoint: e.URL, Deployment: "dep", APIKey: "k",
		OnRateLimitHeaders: func(d string, r, tk int) { gotDep, gotReq, gotTok = d, r, tk }})
	if _, err := c.Complete(context.Background(), reporterRequest()); err != nil {
		t.Fatal(err)
	}
	if gotDep != "dep" || gotReq != 9 || gotTok <= 0 || gotTok >= 100000 {
		t.Errorf("hook got %q %d %d", gotDep, gotReq, gotTok)
	}
}

func TestEmulator_OpenAIRoute(t *testing.T) {
	e := startEmulator(t, emulator.Config{APIKey: "k"}, false)
	c, _ := New(Config{Kind: KindOpenAI, BaseURL: e.URL + "/v1", Model: "gpt-4o-mini", APIKey: "k"})
	if _, err := c.Complete(context.Background(), reporterRequest()); err != nil {
		t.Fatal(err)
	}
	r := e.Requests()[0]
	if r.Path != "/v1/chat/completions" || r.Auth != emulator.AuthBearer || r.Deployment != "gpt-4o-mini" {
		t.Errorf("recorded %+v", r)
	}
}
