package team

import (
	"iter"

	"github.com/newsroom-dev/newsroom/untrusted"
)

// EventSecurity carries what the run's guard refused or neutralised
// (Security): a fetch of a URL without provenance, a redirect off-site, a
// document that carried the run's boundary.
const EventSecurity EventType = "security"

// WithSecurity returns events with the events run reports (untrusted.Run.Report)
// added as EventSecurity events, each right after the event during which it
// was reported (the tool result of the refused call). A nil run returns
// events unchanged.
func WithSecurity(events iter.Seq2[Event, error], run *untrusted.Run) iter.Seq2[Event, error] {
	if run == nil {
		return events
	}
	return func(yield func(Event, error) bool) {
		for e, err := range events {
			if err != nil {
				yield(e, err)
				return
			}
			if e.Type == EventRunFinished {
				if !flushSecurity(run, e, yield) {
					return
				}
			}
			if !yield(e, nil) {
				return
			}
			if e.Type != EventRunFinished && !flushSecurity(run, e, yield) {
				return
			}
		}
	}
}

func flushSecurity(run *untrusted.Run, after Event, yield func(Event, error) bool) bool {
	for _, s := range run.Drain() {
		sec := s
		if !yield(Event{Type: EventSecurity, Time: after.Time, Speaker: after.Speaker, Index: after.Index, Total: after.Total, Security: &sec}, nil) {
			return false
		}
	}
	return true
}

// ResumedFrom returns the checkpoint opts resume from (WithCheckpoint), or nil.
func ResumedFrom(opts ...RunOption) *Checkpoint {
	var o runOptions
	for _, f := range opts {
		f(&o)
	}
	return o.resume
}
