package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/newsroom-dev/newsroom/alerts"
)

func TestCountAuthFailures_RaisesTheAlertOnABurstOf401s(t *testing.T) {
	mon, err := alerts.New(alerts.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := countAuthFailures(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}), mon)
	for range 10 { // successes do not count
		h.ServeHTTP(httptest.NewRecorder(), authed(httptest.NewRequest("GET", "/v1/runs", nil)))
	}
	if mon.Fired(alerts.AuthFailures) != 0 {
		t.Fatal("fired without failures")
	}
	for range 6 {
		r := httptest.NewRequest("GET", "/v1/runs", nil)
		r.Header.Set("Authorization", "Bearer nr_bad")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if mon.Fired(alerts.AuthFailures) != 1 {
		t.Fatal("6 bad keys within a minute must fire auth_failures")
	}
}

func authed(r *http.Request) *http.Request {
	r.Header.Set("Authorization", "Bearer good")
	return r
}

// TestCountAuthFailures_AnonymousVisitorsDoNotFire sends the 401s every
// anonymous page load gets from GET /v1/me (no credentials): they are not
// authentication failures, and the alert stays quiet.
func TestCountAuthFailures_AnonymousVisitorsDoNotFire(t *testing.T) {
	mon, err := alerts.New(alerts.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := countAuthFailures(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	}), mon)
	for range 20 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/me", nil))
	}
	if n := mon.Fired(alerts.AuthFailures); n != 0 {
		t.Fatalf("20 anonymous page loads fired auth_failures %d times, want 0", n)
	}
}
