package telemetry

import (
	"slices"

	"go.opentelemetry.io/otel/attribute"

	"github.com/newsroom-dev/newsroom/untrusted"
)

// AttrSecurityKind labels MetricSecurityEvents.
const AttrSecurityKind attribute.Key = "newsroom.security.kind"

// securityKind keeps the label set closed: a kind this build does not know is "other".
func securityKind(k string) string {
	if slices.Contains(untrusted.Kinds, k) {
		return k
	}
	return "other"
}
