package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/eval"
)

// evalOptions are the flags of `newsroom eval SUITE`.
type evalOptions struct {
	desks, deployments, efforts []string
	teamFiles                   []string
	repeat, concurrency         int
	format, out                 string
	resume                      bool
	failUnder                   []string
	failIfWorse                 string
	judge                       string
	timeout                     time.Duration
	model                       *modelFlags
	tools                       *toolFlags
}

func newEvalCmd() *cobra.Command {
	o := &evalOptions{}
	cmd := &cobra.Command{
		Use:   "eval [flags] SUITE",
		Short: "Measure a desk's articles on a suite of cases; compare and gate",
		Long: `Run every case of SUITE (a YAML file: tasks, their source documents and what
the article must and must not say) on each variant (desk x deployment x
reasoning effort, --repeat times), and measure each article without a model:
claim support, citations, quotes, expected facts, headline, length,
readability, outcome, tokens, cost and time (see docs/eval.md).

A run exits 0 whatever the scores; --fail-under and --fail-if-worse make it
exit 1; a bad suite exits 2.`,
		Example: `  newsroom eval eval/suites/starter/suite.yaml --desk roundrobin,selector --out results/
  newsroom eval suite.yaml --format json > new.json
  newsroom eval suite.yaml --fail-under claim_support=0.9 --fail-if-worse base.json
  newsroom eval compare base.json new.json
  newsroom eval validate suite.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runEval(cmd, o, args[0]) },
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&o.desks, "desk", nil, "desks to run, comma-separated (default: the suite's desks, else roundrobin)")
	fs.StringArrayVar(&o.teamFiles, "team-file", nil, "also run the desk of this team file (repeatable)")
	fs.StringSliceVar(&o.efforts, "reasoning-effort", nil, "reasoning efforts to run, comma-separated (minimal, low, medium, high); recorded per variant, not yet sent: the model layer has no reasoning effort yet (docs/eval.md)")
	fs.IntVar(&o.repeat, "repeat", 1, "run each case N times per variant")
	fs.IntVar(&o.concurrency, "concurrency", 2, "runs in flight at once (the quota limiter paces their calls)")
	fs.StringVar(&o.format, "format", "text", "output: text (a summary) or json (the result document)")
	fs.StringVar(&o.out, "out", "", "write results.json, results.jsonl (as each run finishes), report.md and report.html to this folder")
	fs.BoolVar(&o.resume, "resume", false, "continue the evaluation in --out: runs already in its results.jsonl are not repeated")
	fs.StringArrayVar(&o.failUnder, "fail-under", nil, "exit 1 when a variant's mean METRIC is below VALUE: METRIC=VALUE (repeatable)")
	fs.StringVar(&o.failIfWorse, "fail-if-worse", "", "exit 1 when a quality metric is clearly worse than in this result document")
	fs.StringVar(&o.judge, "judge", "", "also score each article with this deployment (or model) as judge: rubric scores 1-5 from eval/prompts/judge-v1.md, reported apart from the metrics, with their own cost")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "deadline for each run")
	o.model = addModelFlags(fs)
	o.tools = addToolFlags(fs, false)
	fs.Lookup("deployment").Usage = "deployments (or models) to run each desk on, comma-separated: each is a variant (default: the configured one)"
	fs.Lookup("cache").Usage += "; eval uses no response cache unless this flag is given (it measures fresh answers)"
	cmd.AddCommand(newEvalValidateCmd(), newEvalSchemaCmd(), newEvalCompareCmd())
	return cmd
}

func newEvalValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate SUITE...",
		Short: "Check suite files (fields, source documents, desks) without running them",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, p := range args {
				s, err := loadSuite(p)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok (%d cases)\n", p, len(s.Cases))
			}
			return nil
		},
	}
}

func newEvalSchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of suite files",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := cmd.OutOrStdout().Write(eval.Schema())
			return err
		},
	}
}

// loadSuite reads a suite; any problem is a configuration error (exit 2).
func loadSuite(path string) (*eval.Suite, error) {
	s, err := eval.LoadFile(path, eval.LoadOptions{Desks: desk.Teams})
	var fe *eval.FileError
	if errors.As(err, &fe) {
		return nil, fmt.Errorf("%w: invalid suite:\n%w", errConfig, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	return s, nil
}

// evalVariants is the cross product of the flags' desks, deployments and
// efforts, with the desks' specs by name.
func evalVariants(o *evalOptions, s *eval.Suite) ([]eval.Variant, map[string]*desk.Spec, error) {
	specs := map[string]*desk.Spec{}
	names := o.desks
	if len(names) == 0 && len(o.teamFiles) == 0 {
		names = orDefault(s.Desks, []string{desk.RoundRobin})
	}
	reg := desk.NewRegistry()
	var desks []eval.Variant
	for _, n := range names {
		d, ok := reg.Get(n)
		if !ok {
			return nil, nil, usageErrorf("--desk: unknown desk %q; known: %s (or use --team-file)", n, strings.Join(desk.Teams, ", "))
		}
		specs[n] = d.Spec
		desks = append(desks, eval.Variant{Desk: n})
	}
	for _, f := range o.teamFiles {
		d, err := desk.LoadFile(f, desk.LoadOptions{})
		if err != nil {
			return nil, nil, teamFileError(err)
		}
		name := "file:" + d.Spec.Name
		specs[name] = d.Spec
		desks = append(desks, eval.Variant{Desk: name, TeamFile: f})
	}
	var out []eval.Variant
	for _, v := range desks {
		for _, dep := range orDefault(o.deployments, []string{""}) {
			for _, e := range orDefault(o.efforts, []string{""}) {
				v.Deployment, v.ReasoningEffort = dep, e
				out = append(out, v)
			}
		}
	}
	return out, specs, nil
}

// orDefault is a, or b when a is empty.
func orDefault(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

func checkEvalFlags(o *evalOptions) error {
	switch {
	case o.format != "text" && o.format != "json":
		return usageErrorf("--format must be text or json, not %q", o.format)
	case o.repeat < 1 || o.concurrency < 1:
		return usageErrorf("--repeat and --concurrency must be at least 1")
	case o.resume && o.out == "":
		return usageErrorf("--resume continues the evaluation of --out DIR; give --out")
	}
	for _, e := range o.efforts {
		if !slices.Contains([]string{"minimal", "low", "medium", "high"}, e) {
			return usageErrorf("--reasoning-effort: %q must be minimal, low, medium or high", e)
		}
	}
	_, err := parseGates(o.failUnder)
	return err
}

// runEval runs a suite and writes its results and reports.
func runEval(cmd *cobra.Command, o *evalOptions, path string) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if err := checkEvalFlags(o); err != nil {
		return err
	}
	// --deployment x,y makes one variant per deployment, each sent as its
	// requests' deployment. It is not the configuration's deployment (which
	// would also mean "Azure is configured" and end the emulator): the
	// stack keeps the configured one (AZURE_OPENAI_DEPLOYMENT) as default.
	if f := cmd.Flags().Lookup("deployment"); f.Changed {
		o.deployments = strings.Split(f.Value.String(), ",")
		o.model.fs = settingsWithout(cmd.Flags(), "deployment")
	}
	s, err := loadSuite(path)
	if err != nil {
		return err
	}
	variants, specs, err := evalVariants(o, s)
	if err != nil {
		return err
	}
	var base *eval.Document
	if o.failIfWorse != "" {
		if base, err = eval.ReadDocument(o.failIfWorse); err != nil {
			return fmt.Errorf("%w: --fail-if-worse: %w", errUsage, err)
		}
	}
	o.model.noCache = !cmd.Flags().Changed("cache")
	stack, err := buildModel(ctx, o.model, stderr, stackOptions{})
	if err != nil {
		return err
	}
	defer stack.Close()
	if err := checkEvalDeployments(o, stack); err != nil {
		return err
	}
	if stack.Info.Emulated && isTerminal(stderr) {
		fmt.Fprint(stderr, emulatorNotice)
	}
	tools, err := o.tools.build(ctx, stack.Logger, stack.Config.FetchAllow)
	if err != nil {
		return err
	}
	defer tools.Close()
	for _, sp := range specs {
		if err := tools.connectDesks(ctx, o.tools, sp); err != nil {
			return err
		}
	}
	runner := &evalRunner{stack: stack, tools: tools, flags: o.tools, specs: specs, timeout: o.timeout}
	started := time.Now().UTC()
	results, runErr := evaluate(ctx, o, s, variants, runner, stderr)
	doc, err := eval.NewDocument(s, variants, results)
	if err != nil {
		return err
	}
	doc.BinaryVersion, doc.Emulated, doc.StartedAt, doc.FinishedAt = buildVersion(), stack.Info.Emulated, started, time.Now().UTC()
	if err := writeEvalOutputs(o, doc, stdout); err != nil {
		return err
	}
	if runErr != nil {
		if interrupted(ctx) {
			return runErr
		}
		return fmt.Errorf("%w: %w", errRunFailed, runErr)
	}
	return applyGates(o, doc, base, stderr)
}

func checkEvalDeployments(o *evalOptions, stack *modelStack) error {
	known := knownDeployments(stack)
	for _, d := range append(slices.Clone(o.deployments), o.judge) {
		if d != "" && known != nil && !slices.Contains(known, d) {
			return fmt.Errorf("%w: unknown deployment %q; known: %s (list more in %s)", errConfig, d, strings.Join(known, ", "), deploymentsEnv)
		}
	}
	return nil
}

// evaluate runs the jobs, appending each result to --out's journal as it
// finishes and showing progress on a terminal.
func evaluate(ctx context.Context, o *evalOptions, s *eval.Suite, variants []eval.Variant, r *evalRunner, stderr io.Writer) ([]eval.Result, error) {
	cfg := eval.Config{Runner: r, Concurrency: o.concurrency}
	var journal *eval.Journal
	if o.out != "" {
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return nil, fmt.Errorf("%w: --out: %w", errUsage, err)
		}
		jp := filepath.Join(o.out, "results.jsonl")
		if !o.resume {
			if err := os.Remove(jp); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w: --out: %w", errUsage, err)
			}
		}
		done, err := eval.ReadJournal(jp)
		if err != nil {
			return nil, err
		}
		cfg.Done = done
		if journal, err = eval.OpenJournal(jp); err != nil {
			return nil, err
		}
		defer journal.Close()
	}
	progress := isTerminal(stderr)
	var tokens int
	var cost float64
	cfg.OnResult = func(res eval.Result, done, total int) error {
		tokens += int(res.Metrics[eval.PromptTokens] + res.Metrics[eval.CompletionTokens])
		cost += res.Metrics[eval.CostUSD]
		if progress {
			fmt.Fprintf(stderr, "[%d/%d] %s on %s: %s, %d failed checks (total %d tokens, $%.4f)\n", done, total,
				res.Case, res.Variant, cmp.Or(res.StopReason, "no stop reason"), res.Failed, tokens, cost)
		}
		if journal != nil {
			return journal.Append(res)
		}
		return nil
	}
	if o.judge != "" {
		cfg.Judge = &eval.ModelJudge{Client: r.stack.RunClient(0, 0), Deployment: o.judge}
	}
	return eval.Evaluate(ctx, eval.Jobs(s, variants, o.repeat), cfg)
}

// writeEvalOutputs writes the document to stdout (json) or a summary
// (text), and with --out the document and the reports to the folder.
func writeEvalOutputs(o *evalOptions, doc *eval.Document, stdout io.Writer) error {
	if o.format == "json" {
		if err := doc.WriteJSON(stdout); err != nil {
			return err
		}
	} else if err := eval.WriteMarkdown(stdout, doc); err != nil {
		return err
	}
	if o.out == "" {
		return nil
	}
	files := map[string]func(io.Writer, *eval.Document) error{
		"results.json": func(w io.Writer, d *eval.Document) error { return d.WriteJSON(w) },
		"report.md":    eval.WriteMarkdown,
		"report.html":  eval.WriteHTML,
	}
	for name, write := range files {
		f, err := os.Create(filepath.Join(o.out, name))
		if err != nil {
			return fmt.Errorf("%w: --out: %w", errUsage, err)
		}
		err = write(f, doc)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("--out %s: %w", name, err)
		}
	}
	return nil
}

// settingsWithout is a flag set with the configuration flags set on fs,
// but name: what modelFlags.set reads for the configuration.
func settingsWithout(fs *pflag.FlagSet, name string) *pflag.FlagSet {
	out := pflag.NewFlagSet(fs.Name(), pflag.ContinueOnError)
	fs.Visit(func(f *pflag.Flag) {
		if f.Name != name && settingNames[f.Name] {
			out.AddFlag(f)
			_ = out.Set(f.Name, f.Value.String()) // scalar settings: setting the same value again changes nothing
		}
	})
	return out
}
