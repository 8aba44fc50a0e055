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
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/runs", nil))
	}
	if mon.Fired(alerts.AuthFailures) != 1 {
		t.Fatal("6 bad keys within a minute must fire auth_failures")
	}
}

func authed(r *http.Request) *http.Request {
	r.Header.Set("Authorization", "Bearer good")
	return r
}
