package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/newsroom-dev/newsroom/eval"
)

// compareSeed fixes the bootstrap's resampling, so that comparing the same
// two files always prints the same intervals.
const compareSeed = 21

func newEvalCompareCmd() *cobra.Command {
	var format, baseVariant, newVariant string
	cmd := &cobra.Command{
		Use:   "compare BASE.json NEW.json",
		Short: "Compare two evaluations: per metric the difference, its 95% interval and a verdict",
		Long: `Compare two result documents case by case: a case's value of a metric is its
mean over the document's runs of it (every variant and repeat, or only those of
--base-variant and --new-variant), and the 95% interval of the difference comes
from resampling the cases both documents have. Cases whose expected outcome
changed are listed first. Two variants of one evaluation compare with the same
file twice: compare r.json r.json --base-variant roundrobin --new-variant selector.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageErrorf("--format must be text or json, not %q", format)
			}
			base, err := eval.ReadDocument(args[0])
			if err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			next, err := eval.ReadDocument(args[1])
			if err != nil {
				return fmt.Errorf("%w: %w", errUsage, err)
			}
			if base, err = onlyVariant(base, baseVariant, "--base-variant"); err != nil {
				return err
			}
			if next, err = onlyVariant(next, newVariant, "--new-variant"); err != nil {
				return err
			}
			c := eval.Compare(base, next, compareSeed)
			if format == "json" {
				return writeIndentedJSON(cmd.OutOrStdout(), c)
			}
			writeComparison(cmd.OutOrStdout(), c)
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output: text or json")
	cmd.Flags().StringVar(&baseVariant, "base-variant", "", "compare only this variant's results of BASE")
	cmd.Flags().StringVar(&newVariant, "new-variant", "", "compare only this variant's results of NEW")
	return cmd
}

// onlyVariant keeps one variant's results of a document ("" keeps all).
func onlyVariant(d *eval.Document, name, flag string) (*eval.Document, error) {
	if name == "" {
		return d, nil
	}
	out, ok := d.OnlyVariant(name)
	if !ok {
		var names []string
		for _, v := range d.Variants {
			names = append(names, v.Name)
		}
		return nil, usageErrorf("%s: no variant %q; the document has %s", flag, name, strings.Join(names, ", "))
	}
	return out, nil
}

// writeComparison prints the cases that changed outcome first, then the metrics.
func writeComparison(w io.Writer, c eval.Comparison) {
	if len(c.Changed) > 0 {
		fmt.Fprintln(w, "Cases that changed outcome:")
		for _, ch := range c.Changed {
			word := "now fails its expected outcome"
			if ch.Improved {
				word = "now has its expected outcome"
			}
			fmt.Fprintf(w, "  %s: %s (%q -> %q)\n", ch.Case, word, ch.Base, ch.New)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "%-20s %12s %12s %12s  %-26s %s\n", "METRIC", "BASE", "NEW", "DIFFERENCE", "95% INTERVAL", "VERDICT")
	for _, d := range c.Differences {
		fmt.Fprintf(w, "%-20s %12.4g %12.4g %+12.4g  [%+.4g, %+.4g]%*s %s\n", d.Metric, d.Base, d.New, d.Delta, d.Low, d.High,
			max(1, 26-len(fmt.Sprintf("[%+.4g, %+.4g]", d.Low, d.High))), "", d.Verdict)
	}
}

// parseGates reads the --fail-under flags.
func parseGates(flags []string) ([]eval.Gate, error) {
	var out []eval.Gate
	for _, f := range flags {
		m, v, ok := strings.Cut(f, "=")
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		switch {
		case !ok || err != nil:
			return nil, usageErrorf("--fail-under %q: want METRIC=VALUE, e.g. claim_support=0.9", f)
		case !slices.Contains(eval.MetricNames, m):
			return nil, usageErrorf("--fail-under: unknown metric %q; known: %s", m, strings.Join(eval.MetricNames, ", "))
		}
		out = append(out, eval.Gate{Metric: m, Value: x})
	}
	return out, nil
}

// applyGates exits 1 (errRunFailed) when a threshold is missed or a
// quality metric is clearly worse than the base document's.
func applyGates(o *evalOptions, doc *eval.Document, base *eval.Document, stderr io.Writer) error {
	gates, _ := parseGates(o.failUnder) // checked before the runs
	failed := eval.CheckGates(doc, gates)
	if base != nil {
		for _, d := range eval.Compare(base, doc, compareSeed).WorseQuality() {
			failed = append(failed, fmt.Sprintf("%s is worse than in %s: %+.4g [%+.4g, %+.4g]", d.Metric, o.failIfWorse, d.Delta, d.Low, d.High))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	for _, f := range failed {
		fmt.Fprintln(stderr, "newsroom: eval gate: "+f)
	}
	return fmt.Errorf("%w: %d eval gates failed", errRunFailed, len(failed))
}

func writeIndentedJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
