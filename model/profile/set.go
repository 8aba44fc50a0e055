package profile

import (
	"cmp"
	"maps"
	"sync"
)

// Set holds the profile of every deployment a process talks to, and what
// the process learnt about each: the model its first answer named (for a
// deployment whose configuration and name say nothing), and the parameters
// the service refused although the profile said it takes them. It is safe
// for concurrent use; a provider client owns one.
type Set struct {
	table *Table

	mu   sync.Mutex
	deps map[string]*state
}

type state struct {
	configured string // the model the configuration names ("" when none)
	learned    string // the model the first answer named
	dropped    map[string]bool
	// moved is true when max_tokens was refused and max_completion_tokens
	// takes its place (or, with back, the other way round).
	moved, back bool
}

// NewSet returns a set over table (nil: Default()) with the models the
// configuration names per deployment (may be nil).
func NewSet(table *Table, models map[string]string) *Set {
	if table == nil {
		table = Default()
	}
	s := &Set{table: table, deps: map[string]*state{}}
	for d, m := range models {
		s.Configure(d, m)
	}
	return s
}

// Table returns the set's table.
func (s *Set) Table() *Table { return s.table }

// Configure records the model behind a deployment, as the configuration names it.
func (s *Set) Configure(deployment, modelName string) {
	if modelName == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.get(deployment).configured = modelName
}

func (s *Set) get(deployment string) *state {
	st := s.deps[deployment]
	if st == nil {
		st = &state{}
		s.deps[deployment] = st
	}
	return st
}

// Model returns the model name behind a deployment as far as the set knows
// it: the configured one, else the model its first answer named, else "".
func (s *Set) Model(deployment string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.deps[deployment]; st != nil {
		return cmp.Or(st.configured, st.learned)
	}
	return ""
}

// Profile returns a deployment's profile: the configured model's, else the
// deployment name's (when it names a model family), else the model's its
// first answer named, else an unknown profile.
func (s *Set) Profile(deployment string) Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.profileLocked(deployment)
}

func (s *Set) profileLocked(deployment string) Profile {
	st := s.deps[deployment]
	if st != nil && st.configured != "" {
		if p, ok := s.table.Lookup(st.configured); ok {
			return p
		}
	}
	if p, ok := s.table.Lookup(deployment); ok {
		return p
	}
	if st != nil && st.learned != "" {
		if p, ok := s.table.Lookup(st.learned); ok {
			return p
		}
	}
	return Profile{}
}

// Observe records the model an answer from the deployment named; the first
// one counts.
func (s *Set) Observe(deployment, answered string) {
	if answered == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.get(deployment); st.learned == "" {
		st.learned = answered
	}
}

// Params is what to send a deployment: its profile and what the process
// learnt about it.
type Params struct {
	Profile Profile
	dropped map[string]bool
	moved   bool
	back    bool
}

// Params returns what to send a deployment now.
func (s *Set) Params(deployment string) Params {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := Params{Profile: s.profileLocked(deployment)}
	if st := s.deps[deployment]; st != nil {
		p.dropped, p.moved, p.back = maps.Clone(st.dropped), st.moved, st.back
	}
	return p
}

// Sends reports whether a parameter is sent to the deployment.
func (p Params) Sends(param string) bool {
	if p.dropped[param] {
		return false
	}
	return p.Profile.Accepts(param)
}

// MaxCompletionTokens reports whether the output cap is sent as
// max_completion_tokens (reasoning models, or a deployment that refused
// max_tokens) rather than max_tokens.
func (p Params) MaxCompletionTokens() bool {
	if p.back {
		return false
	}
	return p.Profile.Reasoning || p.moved
}

// Adapt records that the deployment refused a parameter (a 400 with code
// unsupported_parameter, unsupported_value or invalid_value naming it):
// max_tokens moves to max_completion_tokens (and back, when that is the
// one refused), any other parameter is no longer sent. adapted reports
// whether the next encoding leaves the parameter out (false when nothing
// can be adapted: the caller gives up); first whether this call made the
// change (concurrent calls refused alike all resend, one of them warns).
func (s *Set) Adapt(deployment, param string) (adapted, first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.get(deployment)
	switch param {
	case "":
		return false, false
	case ParamMaxTokens:
		if st.moved {
			return true, false
		}
		st.moved, st.back = true, false
		return true, true
	case ParamMaxCompletionTokens:
		if st.moved {
			return false, false // both were refused: nothing left to send
		}
		if st.back {
			return true, false
		}
		st.back = true
		return true, true
	}
	if st.dropped[param] {
		return true, false
	}
	if st.dropped == nil {
		st.dropped = map[string]bool{}
	}
	st.dropped[param] = true
	return true, true
}
