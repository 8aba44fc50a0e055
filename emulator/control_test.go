package emulator

import (
	"net/http"
	"testing"
)

func TestServer_control(t *testing.T) {
	t.Parallel()
	r := mustStart(t, Config{APIKey: testKey}, Options{})
	key := map[string]string{"api-key": testKey}
	chat := func() *http.Response {
		resp, _ := do(t, r, reqOpts{path: azurePath, headers: key, body: chatBody(simpleMsgs(), nil)})
		return resp
	}
	force := func(body any, want int) {
		t.Helper()
		if resp, data := do(t, r, reqOpts{path: ControlPath, headers: key, body: body}); resp.StatusCode != want {
			t.Fatalf("POST %s %v = %d %s, want %d", ControlPath, body, resp.StatusCode, data, want)
		}
	}

	t.Run("without the key the route is refused", func(t *testing.T) {
		if resp, _ := do(t, r, reqOpts{path: ControlPath, body: map[string]any{"fault": "503"}}); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", resp.StatusCode)
		}
	})
	t.Run("an unknown fault is a bad request", func(t *testing.T) {
		force(map[string]any{"fault": "explode"}, http.StatusBadRequest)
	})
	t.Run("a forced 503 answers every request until cleared", func(t *testing.T) {
		force(map[string]any{"fault": "503"}, http.StatusNoContent)
		for range 3 {
			if got := chat().StatusCode; got != http.StatusServiceUnavailable {
				t.Fatalf("status %d under a forced 503, want 503", got)
			}
		}
		force(map[string]any{"fault": ""}, http.StatusNoContent)
		if got := chat().StatusCode; got != http.StatusOK {
			t.Errorf("status %d after clearing, want 200", got)
		}
	})
	t.Run("a forced 429 asks for the wait it was given", func(t *testing.T) {
		force(map[string]any{"fault": "429", "retry_after_ms": 20000}, http.StatusNoContent)
		resp := chat()
		force(map[string]any{"fault": ""}, http.StatusNoContent)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "20" || resp.Header.Get("retry-after-ms") != "20000" {
			t.Errorf("status %d Retry-After %q retry-after-ms %q, want 429, 20, 20000", resp.StatusCode,
				resp.Header.Get("Retry-After"), resp.Header.Get("retry-after-ms"))
		}
	})
}
