package server

import (
	"math"
	"time"
)

// Bounds and assumptions of SizeWorkers.
const (
	// MinWorkers and MaxWorkers bound the derived number of runs in progress.
	MinWorkers = 4
	MaxWorkers = 64
	// DefaultCallTokens is the assumed size of one model call (prompt with
	// the run's history, plus the completion) when none is known.
	DefaultCallTokens = 1000
	// DefaultCallLatency is the assumed duration of one model call (time to
	// first token plus streaming the completion) when none is known.
	DefaultCallLatency = 8 * time.Second
)

// Quota describes a deployment's quota and the model calls made against it,
// for SizeWorkers. Zero fields mean unknown.
type Quota struct {
	// RPM and TPM are the deployment's requests and tokens per minute.
	RPM, TPM int
	// CallTokens is a call's typical size in tokens; 0 means DefaultCallTokens.
	CallTokens int
	// CallLatency is a call's typical duration; 0 means DefaultCallLatency.
	CallLatency time.Duration
}

// SizeWorkers returns how many runs should be in progress at once to keep
// the deployment's quota busy. A run makes one model call at a time and
// mostly waits on it, so the quota stays busy when as many calls are in
// flight as it admits per call duration: the calls a minute the quota allows
// (the lower of RPM and TPM / CallTokens) times CallLatency / 1 minute. The
// result is bounded to MinWorkers..MaxWorkers (MinWorkers when neither RPM
// nor TPM is known); more runs than the quota
// serves at once wait in the quota limiter, which stays the throttle.
func SizeWorkers(q Quota) int {
	tokens, latency := q.CallTokens, q.CallLatency
	if tokens <= 0 {
		tokens = DefaultCallTokens
	}
	if latency <= 0 {
		latency = DefaultCallLatency
	}
	perMin := math.Inf(1)
	if q.RPM > 0 {
		perMin = float64(q.RPM)
	}
	if q.TPM > 0 {
		perMin = min(perMin, float64(q.TPM)/float64(tokens))
	}
	if math.IsInf(perMin, 1) {
		return MinWorkers // no quota known: the floor
	}
	n := int(math.Ceil(perMin * latency.Minutes()))
	return min(max(n, MinWorkers), MaxWorkers)
}
