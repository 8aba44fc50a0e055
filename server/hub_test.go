package server

import (
	"testing"
	"time"

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
	t0 := time.Now()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	q.commit("a", at(2))
	q.release()
	q.pushResumed("r1", at(3))
	q.pushResumed("r2", at(1)) // submitted before a (to another instance)
	q.pushResumed("a", at(2))  // already queued
	if got := q.len(); got != 3 {
		t.Errorf("len = %d, want 3 (r2, a, r1)", got)
	}
	if head, ok := q.head(); !ok || !head.Equal(at(1)) {
		t.Errorf("head = %v %v, want r2's submission time", head, ok)
	}
	if q.reserve() {
		t.Error("reserve succeeded on a queue over its bound")
	}
	q.remove("r1")
	q.pushResumed("r3", at(2)) // submitted with a: after it
	for _, want := range []string{"r2", "a", "r3"} {
		if id, ok := q.pop(); !ok || id != want {
			t.Errorf("pop = %q %v, want %q", id, ok, want)
		}
	}
	q.close()
	if _, ok := q.pop(); ok {
		t.Error("pop on a closed queue returned an id")
	}
}
