package server

import (
	"testing"

	"github.com/newsroom-dev/newsroom/team"
)

func TestHub_SlowSubscriberIsToldItLagged(t *testing.T) {
	h := newHub()
	sub, unsubscribe := h.subscribe("r")
	other, unsubscribeOther := h.subscribe("other-run")
	defer unsubscribeOther()
	for range cap(sub.ch) + 10 {
		h.publish("r", item{Event: team.Event{Type: team.EventDelta}})
	}
	h.publish("r", item{Seq: 1, Event: team.Event{Type: team.EventMessage}})
	select {
	case <-sub.lag:
	default:
		t.Fatal("a full subscriber was not signalled: it would miss a durable event")
	}
	if len(sub.ch) != cap(sub.ch) {
		t.Errorf("buffer holds %d, want full %d", len(sub.ch), cap(sub.ch))
	}
	if len(other.ch) != 0 {
		t.Error("another run's subscriber got the events")
	}
	unsubscribe()
	h.publish("r", item{Seq: 2})
	if _, ok := h.subs["r"]; ok {
		t.Error("the run's subscriber set was not removed")
	}
}

func TestQueue_BoundsSubmissionsNotResumedRuns(t *testing.T) {
	q := newQueue(2)
	first, second, third := q.reserve(), q.reserve(), q.reserve()
	if !first || !second || third {
		t.Fatal("reserve should allow exactly 2")
	}
	q.commit("a")
	q.release()
	q.pushResumed("r1")
	q.pushResumed("r2")
	q.pushResumed("a") // already queued
	if got := q.len(); got != 3 {
		t.Errorf("len = %d, want 3 (a, r1, r2)", got)
	}
	if q.reserve() {
		t.Error("reserve succeeded on a queue over its bound")
	}
	q.remove("r1")
	for _, want := range []string{"a", "r2"} {
		if id, ok := q.pop(); !ok || id != want {
			t.Errorf("pop = %q %v, want %q", id, ok, want)
		}
	}
	q.close()
	if _, ok := q.pop(); ok {
		t.Error("pop on a closed queue returned an id")
	}
}
