package emulator

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config configures a Server. The zero value is a working emulator: no key
// required, no quota, no latency, no faults.
type Config struct {
	// APIKey, when set, is required on every request, as the api-key header
	// or an "Authorization: Bearer" token. Empty accepts any request.
	APIKey string
	// TokenValidator, when set, accepts a bearer token that is not APIKey
	// (tests use it for Entra ID tokens). It must be safe for concurrent use.
	TokenValidator func(token string) bool

	// ModelName is the model behind every deployment Deployments does not
	// name: the model the responses say answered, and what decides which
	// parameters a request may carry (a reasoning model such as GPT-5
	// refuses max_tokens and temperature; see reasoning.go). It also picks
	// the tokenizer. Empty means DefaultModelName, a GPT-5 model.
	ModelName string
	// Deployments maps deployment names to the model behind each, for
	// deployments whose model is not ModelName (a GPT-4o deployment next
	// to the GPT-5 default, say). On the v1 and OpenAI-style routes the
	// deployment is the body's model.
	Deployments map[string]string
	// ContextWindow is the model's context length in tokens: a prompt longer
	// than this gets Azure's context_length_exceeded error. Zero means the
	// model's own (272,000 for GPT-5, 128,000 for GPT-4o; DefaultContextWindow
	// for a model the profile table does not know).
	ContextWindow int

	// Quota limits requests and tokens per minute per deployment, like an
	// Azure OpenAI deployment's rate limits. The zero value is unlimited.
	Quota Quota
	// Latency is the default response timing. The zero value answers at once.
	Latency Latency
	// Faults injects failures at random, at the given rates.
	Faults Faults
	// Seed seeds the random fault draws (and response ids), so a sequence of
	// requests meets the same faults on every run.
	Seed uint64

	// Now is the clock for quota windows and "created" timestamps; nil means
	// time.Now.
	Now func() time.Time
	// MaxRecorded bounds how many requests Requests keeps (the most recent).
	// Zero means 10,000; negative records none. Count counts them all.
	MaxRecorded int
}

// Defaults for zero Config fields.
const (
	DefaultModelName     = "gpt-5-2025-08-07"
	DefaultContextWindow = 128000
	defaultMaxRecorded   = 10000
	defaultStall         = 2 * time.Second
)

// Quota is a deployment's rate limit. Zero fields are unlimited.
//
// Tokens are charged the way Azure estimates them at admission: the prompt's
// tokens plus max_tokens (or max_completion_tokens) when the request sets one.
// When it sets none, only the prompt is charged at admission. Once the answer
// is known the charge is reconciled to the real prompt + completion tokens, so
// the window holds what was actually served. A request refused with 429 is
// not charged.
//
// Successful answers and 429s carry x-ratelimit-remaining-requests and
// x-ratelimit-remaining-tokens for each limited dimension; an unlimited
// dimension sends no header rather than a made-up number.
type Quota struct {
	// RequestsPerMinute per deployment (Azure's RPM).
	RequestsPerMinute int
	// TokensPerMinute per deployment (Azure's TPM).
	TokensPerMinute int
}

// Latency models response timing.
type Latency struct {
	// TimeToFirstToken is the wait before the first content (streaming) or
	// before the answer starts (non-streaming).
	TimeToFirstToken time.Duration
	// TokensPerSecond paces the completion's tokens; zero means no pacing.
	TokensPerSecond float64
}

// Fault is a kind of injected failure.
type Fault string

// Faults the emulator can inject, by random rate or by the x-emulator-fault
// request header.
const (
	FaultNone          Fault = ""
	Fault429           Fault = "429"            // quota-style 429 with Retry-After
	Fault500           Fault = "500"            // internal server error
	Fault503           Fault = "503"            // service unavailable
	FaultCut           Fault = "cut"            // connection dropped mid-answer
	FaultStall         Fault = "stall"          // answer pauses mid-way for Faults.Stall
	FaultMalformed     Fault = "malformed"      // a chunk (or body) that is not valid JSON
	FaultContentFilter Fault = "content_filter" // 400 content filter refusal
	FaultContextLength Fault = "context_length" // 400 context_length_exceeded (header only)
)

// faultOrder fixes the order of random draws so a seed always gives the same
// sequence.
var faultOrder = []Fault{Fault429, Fault500, Fault503, FaultCut, FaultStall, FaultMalformed, FaultContentFilter}

// Faults injects failures at random.
type Faults struct {
	// Rates maps a fault to the share of requests (0..1) that meet it. The
	// rates are exclusive: one draw per request picks at most one fault.
	Rates map[Fault]float64
	// Stall is how long a stall fault pauses; zero means 2s.
	Stall time.Duration
}

// ParseFaultRates parses "429=0.05,500=0.01,cut=0.01" into fault rates.
func ParseFaultRates(s string) (map[Fault]float64, error) {
	rates := map[Fault]float64{}
	s = strings.TrimSpace(s)
	if s == "" {
		return rates, nil
	}
	var sum float64
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("emulator: fault rate %q: want kind=rate", part)
		}
		f := Fault(strings.TrimSpace(k))
		if !knownRandomFault(f) {
			return nil, fmt.Errorf("emulator: unknown fault %q (want one of %s)", k, faultNames())
		}
		r, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("emulator: fault rate %q: want a number between 0 and 1", part)
		}
		rates[f] = r
		sum += r
	}
	if sum > 1 {
		return nil, fmt.Errorf("emulator: fault rates add up to %.3g, more than 1", sum)
	}
	return rates, nil
}

func knownRandomFault(f Fault) bool {
	for _, k := range faultOrder {
		if k == f {
			return true
		}
	}
	return false
}

func faultNames() string {
	names := make([]string, len(faultOrder))
	for i, f := range faultOrder {
		names[i] = string(f)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
