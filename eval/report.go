package eval

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
)

// WriteMarkdown writes a summary of the document: per variant the mean
// and spread of each metric, then the cases with failed checks.
func WriteMarkdown(w io.Writer, d *Document) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Evaluation: %s", d.Suite.Name)
	if d.Suite.Version != "" {
		fmt.Fprintf(&b, " (version %s)", d.Suite.Version)
	}
	fmt.Fprintf(&b, "\n\n%d cases, newsroom %s%s.\n\n", d.Suite.Cases, d.BinaryVersion, emulatedNote(d))
	b.WriteString("| metric |")
	for _, v := range d.Variants {
		fmt.Fprintf(&b, " %s |", v.Name)
	}
	b.WriteString("\n|---|")
	for range d.Variants {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, m := range MetricNames {
		fmt.Fprintf(&b, "| %s |", m)
		for _, v := range d.Variants {
			fmt.Fprintf(&b, " %s |", statText(v.Metrics[m]))
		}
		b.WriteString("\n")
	}
	b.WriteString("| outcome as expected |")
	for _, v := range d.Variants {
		fmt.Fprintf(&b, " %.2f |", v.OutcomeOK)
	}
	b.WriteString("\n")
	writeJudgeMarkdown(&b, d)
	b.WriteString("\n## Failed checks\n\n")
	none := true
	for _, r := range d.Results {
		failed := failedChecks(r)
		if len(failed) == 0 && r.OutcomeOK && r.Error == "" {
			continue
		}
		none = false
		fmt.Fprintf(&b, "- **%s** on %s (run %d, %s)", r.Case, r.Variant, r.Repeat, cmp.Or(r.StopReason, "no stop reason"))
		if !r.OutcomeOK {
			fmt.Fprintf(&b, "; expected outcome %s not reached", r.Outcome)
		}
		if r.Error != "" {
			fmt.Fprintf(&b, "; error: %s", r.Error)
		}
		b.WriteString("\n")
		for _, c := range failed {
			fmt.Fprintf(&b, "  - %s: %s%s\n", c.Metric, c.Detail, quoted(c.Text))
		}
	}
	if none {
		b.WriteString("None.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeJudgeMarkdown(b *strings.Builder, d *Document) {
	if !slices.ContainsFunc(d.Variants, func(v VariantSummary) bool { return len(v.Judge) > 0 }) {
		return
	}
	b.WriteString("\nJudge's scores (1-5, a model's opinion, not measured):\n\n| criterion |")
	for _, v := range d.Variants {
		fmt.Fprintf(b, " %s |", v.Name)
	}
	b.WriteString("\n|---|" + strings.Repeat("---|", len(d.Variants)) + "\n")
	for _, c := range JudgeCriteria {
		fmt.Fprintf(b, "| %s |", c)
		for _, v := range d.Variants {
			fmt.Fprintf(b, " %s |", statText(v.Judge[c]))
		}
		b.WriteString("\n")
	}
	b.WriteString("| judge cost (USD) |")
	for _, v := range d.Variants {
		fmt.Fprintf(b, " %.4f |", v.JudgeCostUSD)
	}
	b.WriteString("\n")
}

// JudgeCriteria are the judge's rubric criteria, in report order.
var JudgeCriteria = []string{"faithfulness", "neutrality", "clarity", "news_value"}

func emulatedNote(d *Document) string {
	if d.Emulated {
		return ", on the offline emulator (not a language model)"
	}
	return ""
}

func statText(s Stat) string {
	if s.N == 0 {
		return "n/a"
	}
	if s.N == 1 || s.Min == s.Max {
		return fmt.Sprintf("%.4g", s.Mean)
	}
	return fmt.Sprintf("%.4g ± %.2g (%.4g–%.4g)", s.Mean, s.Stdev, s.Min, s.Max)
}

func failedChecks(r Result) []Check {
	var out []Check
	for _, c := range r.Checks {
		if !c.Passed {
			out = append(out, c)
		}
	}
	return out
}

func quoted(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return fmt.Sprintf(" (%q)", s)
}
