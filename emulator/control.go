package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// ControlPath is the emulator's own route (not part of Azure's protocol) that
// sets or clears a fault forced on every chat request, so a test or a
// benchmark can make a running emulator process fail and recover: a region
// going down, a storm of 503s, a deployment that stalls.
const ControlPath = "/emulator/faults"

// ForcedFault is a fault the emulator gives every chat request until it is
// cleared (Fault empty). A request's x-emulator-fault header still wins.
type ForcedFault struct {
	// Fault is the fault; FaultNone clears a forced fault.
	Fault Fault `json:"fault"`
	// StallMS is how long a stall pauses, in milliseconds; 0 means the
	// server's Faults.Stall.
	StallMS int64 `json:"stall_ms,omitempty"`
	// RetryAfterMS is the wait a forced 429 asks for, in milliseconds; 0
	// means one second.
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
}

// Force makes every chat request meet f until Force is called with
// FaultNone. It is safe for concurrent use.
func (s *Server) Force(f ForcedFault) {
	if f.Fault == FaultNone {
		s.forced.Store(nil)
		return
	}
	s.forced.Store(&f)
}

// applyForced sets the forced fault on a call that has none of its own; it
// reports whether one was set.
func (s *Server) applyForced(c *call) bool {
	f := s.forced.Load()
	if f == nil {
		return false
	}
	c.fault = f.Fault
	if f.StallMS > 0 {
		c.stall = time.Duration(f.StallMS) * time.Millisecond
	}
	if f.RetryAfterMS > 0 {
		c.retryAfter = time.Duration(f.RetryAfterMS) * time.Millisecond
	}
	return true
}

// control serves POST ControlPath with a ForcedFault as its JSON body.
func (s *Server) control(w http.ResponseWriter, r *http.Request, rec *RecordedRequest) {
	if r.Method != http.MethodPost {
		rec.Status = s.notFound(w)
		return
	}
	var f ForcedFault
	body, err := io.ReadAll(io.LimitReader(r.Body, 4096))
	if err == nil {
		err = json.Unmarshal(body, &f)
	}
	if err != nil || (f.Fault != FaultNone && !knownRandomFault(f.Fault)) || f.StallMS < 0 || f.RetryAfterMS < 0 {
		rec.Status = s.fail(w, http.StatusBadRequest, invalidRequest(strp("BadRequest"), "",
			"emulator: want {\"fault\": one of "+faultNames()+" or \"\", \"stall_ms\": N, \"retry_after_ms\": N}"))
		return
	}
	s.Force(f)
	rec.Status = http.StatusNoContent
	w.WriteHeader(http.StatusNoContent)
}
