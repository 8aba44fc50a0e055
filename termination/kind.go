package termination

import "strings"

// Kind is the class of a stop reason, from a closed set. A stop reason is a
// sentence for people and may carry anything (a budget the client chose, the
// text that was mentioned, a source name); its Kind is what metrics label
// runs with and what clients branch on, so the number of label values stays
// fixed whatever the requests say.
type Kind string

// The kinds of stop reasons. KindOther covers a reason no rule here knows
// (a custom condition of a caller).
const (
	KindVerdict       Kind = "verdict"
	KindTextMention   Kind = "text_mention"
	KindMaxMessages   Kind = "max_messages"
	KindTokenLimit    Kind = "token_limit"
	KindBudget        Kind = "budget"
	KindTimeout       Kind = "timeout"
	KindSourceMatch   Kind = "source_match"
	KindExternal      Kind = "external"
	KindCancelled     Kind = "cancelled"
	KindContentFilter Kind = "content_filter"
	KindShutdown      Kind = "shutdown"
	// KindGrounding: the run reached a cap while the article still made
	// claims no source supports.
	KindGrounding Kind = "grounding"
	KindError     Kind = "error"
	// The approval gate: a run waiting for a person's decision, approved,
	// rejected, or forgotten until its approval timeout.
	KindAwaitingApproval Kind = "awaiting_approval"
	KindApproved         Kind = "approved"
	KindRejected         Kind = "rejected"
	KindExpired          Kind = "expired"
	KindOther            Kind = "other"
)

// Kinds lists every Kind, for documentation and tests.
var Kinds = []Kind{KindVerdict, KindTextMention, KindMaxMessages, KindTokenLimit, KindBudget, KindTimeout,
	KindSourceMatch, KindExternal, KindCancelled, KindContentFilter, KindShutdown, KindGrounding, KindError,
	KindAwaitingApproval, KindApproved, KindRejected, KindExpired, KindOther}

// kindPrefixes map the start of each stop reason newsroom writes to its kind:
// the conditions of this package, the budget and content-filter stops of the
// model middleware (model.StopError), the run loop's and the approval
// gate's (team.StopApproved, ...), and the service's own reasons. The tests of this package build every one of those reasons
// and check their kinds, so a reworded reason cannot fall out of its kind
// unnoticed.
var kindPrefixes = []struct {
	prefix string
	kind   Kind
}{
	{"verdict ", KindVerdict},
	{"text mention:", KindTextMention},
	{"max messages reached", KindMaxMessages},
	{"token limit reached", KindTokenLimit},
	{"cost limit reached", KindBudget},
	{"budget:", KindBudget},
	{"timeout", KindTimeout},
	{"message from ", KindSourceMatch},
	{"stopped externally", KindExternal},
	{"cancelled", KindCancelled},
	{"content filter:", KindContentFilter},
	{"server shutting down", KindShutdown},
	{"grounding:", KindGrounding},
	{"error", KindError},
	{"awaiting approval", KindAwaitingApproval},
	{"approved", KindApproved},
	{"rejected", KindRejected},
	{"approval timed out", KindExpired},
}

// KindOf returns the kind of a stop reason. An And of several conditions
// ("a and b") takes the kind of its first part.
func KindOf(reason string) Kind {
	for _, p := range kindPrefixes {
		if strings.HasPrefix(reason, p.prefix) {
			return p.kind
		}
	}
	return KindOther
}

// KindOfRun is the kind of a finished run: KindOf its stop reason, except
// that a run that failed (errMsg set) with a reason of no failure kind
// (cancelled, timeout, shutdown, grounding) is KindError.
func KindOfRun(reason, errMsg string) Kind {
	k := KindOf(reason)
	if errMsg != "" && k != KindCancelled && k != KindTimeout && k != KindShutdown && k != KindGrounding {
		return KindError
	}
	return k
}
