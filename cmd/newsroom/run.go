package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/newsroom-dev/newsroom/console"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/model/preflight"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/telemetry"
	"github.com/newsroom-dev/newsroom/termination"
	"github.com/newsroom-dev/newsroom/untrusted"
)

// defaultMaxTaskBytes caps a task, like the service's default (server.Config.MaxTaskBytes).
const defaultMaxTaskBytes = 16 << 10

// runOptions are the flags of `newsroom run`.
type runOptions struct {
	team         string
	teamFile     string
	selectorDep  string
	effort       string
	format       string
	maxMessages  int
	timeout      time.Duration
	budgetUSD    float64
	maxTokens    int
	taskFile     string
	maxTaskBytes int
	approve      bool
	model        *modelFlags
	tools        *toolFlags
}

func newRunCmd() *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run [flags] TASK",
		Short: "Write an article about TASK in the terminal",
		Long: `Write an article: the team's agents take turns on TASK (a topic or a set of
facts) until the editor approves, a limit is reached or the deadline passes.

TASK is the rest of the command line; "-" or no TASK with piped standard
input reads it from standard input, and --task-file reads it from a file.
Flags may come before or after TASK; "--" ends the flags.`,
		Example: `  newsroom run "Facts: the council approved a bike lane on Main Street on Tuesday."
  newsroom run "Facts: ..." --team selector --format markdown
  newsroom run --task-file brief.txt --format json > run.json
  cat brief.txt | newsroom run -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd, o, args)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.team, "team", desk.RoundRobin, "desk: "+strings.Join(desk.Teams, ", ")+" (see newsroom teams list)")
	fs.StringVar(&o.teamFile, "team-file", "", "run the desk of this team file (YAML; see newsroom teams)")
	fs.StringVar(&o.selectorDep, "selector-deployment", "", "deployment or model for the selector's calls (selector desks)")
	fs.StringVar(&o.effort, "reasoning-effort", "", "reasoning effort of every agent and the selector on a reasoning deployment: none, minimal, low, medium or high, as the model has them (default: each desk's own)")
	fs.StringVar(&o.format, "format", "text", "output: text (live), json or markdown")
	fs.StringVar(&o.taskFile, "task-file", "", "read the task from this file")
	fs.IntVar(&o.maxMessages, "max-messages", 0, "stop after N agent messages (0: 10 for roundrobin, 20 for selector)")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "deadline for the whole run")
	fs.Float64Var(&o.budgetUSD, "budget-usd", 0, "stop before the run would cost more than this many USD (0: the configured per-run budget, else none)")
	fs.IntVar(&o.maxTokens, "max-tokens-total", 0, "stop before the run would use more tokens than this (0: no limit)")
	fs.IntVar(&o.maxTaskBytes, "max-task-bytes", defaultMaxTaskBytes, "refuse a task longer than this many bytes, like the service")
	fs.BoolVar(&o.approve, "approve", false, "a person approves: when the team is done, show the article and ask on the terminal to approve, revise (with a note) or reject; exit 1 when rejected")
	setGroup(fs, groupQuota, "budget-usd", "max-tokens-total", "max-task-bytes")
	o.model = addModelFlags(fs)
	o.tools = addToolFlags(fs, true)
	return cmd
}

// runRun writes an article for a task and prints it as text, JSON or Markdown.
func runRun(cmd *cobra.Command, o *runOptions, args []string) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	switch {
	case o.format != "text" && o.format != "json" && o.format != "markdown":
		return usageErrorf("--format must be text, json or markdown, not %q", o.format)
	case o.teamFile != "" && cmd.Flags().Changed("team"):
		return usageErrorf("give --team or --team-file, not both")
	case o.maxMessages < 0 || o.budgetUSD < 0 || o.maxTokens < 0:
		return usageErrorf("--max-messages, --budget-usd and --max-tokens-total must not be negative")
	case o.maxTaskBytes <= 0:
		return usageErrorf("--max-task-bytes must be positive")
	}
	if o.approve && !stdinIsTerminal(cmd.InOrStdin()) {
		return errNoTerminal
	}
	// The desk is checked before anything else starts, so a mistake in a
	// team file costs no model call.
	spec, err := runDesk(o)
	if err != nil {
		return err
	}
	task, err := readTask(cmd.InOrStdin(), args, o.taskFile, o.maxTaskBytes)
	if err != nil {
		return err
	}
	stack, err := buildModel(ctx, o.model, stderr, stackOptions{})
	if err != nil {
		return err
	}
	defer stack.Close()
	if err := preflight.CheckTask(task, stack.Limits); err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	if err := checkDeployments(o, spec, stack); err != nil {
		return err
	}
	if stack.Info.Emulated {
		fmt.Fprint(stderr, emulatorNotice)
	}
	if w := o.tools.provenanceOff(spec); w != "" {
		fmt.Fprintln(stderr, "warning: "+w)
	}

	tools, err := o.tools.build(ctx, stack.Logger, stack.Config.FetchAllow)
	if err != nil {
		return err
	}
	defer tools.Close()
	if err := tools.connectDesks(ctx, o.tools, spec); err != nil {
		return err
	}
	client := stack.RunClient(o.budgetUSD, o.maxTokens)
	tm, err := desk.New(tools.deskConfig(desk.Config{Spec: spec, Client: client, Model: stack.Info.Deployment, ModelName: stack.Info.ModelName, SelectorModel: o.selectorDep,
		ReasoningEffort: o.effort, Profile: stack.Profile, MaxMessages: o.maxMessages, Extra: termination.Timeout(o.timeout)}, o.tools))
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}

	var printer *console.Printer
	stopLive := func() {}
	if o.format == "text" {
		printer = console.New(stdout)
		printer.SetEmulated(stack.Info.Emulated)
		if isTerminal(stdout) {
			stopLive = printer.Live(100 * time.Millisecond)
		}
	}
	runID := newRunID()
	rctx, observed, wrap := telemetry.Instrument(ctx, stack.Tel, telemetry.RunInfo{RunID: runID, Team: spec.Kind, Logger: stack.Logger})
	opts := append(append([]team.RunOption{team.WithStreaming(o.format == "text"), team.WithRunID(runID)}, observed...), tools.Options...)
	var security []untrusted.Event
	onEvent := func(e team.Event) {
		if e.Type == team.EventSecurity && e.Security != nil {
			security = append(security, *e.Security)
		}
		if printer != nil {
			printer.Handle(e)
		}
	}
	var res *team.Result
	var runErr error
	stream := func(opts ...team.RunOption) iter.Seq2[team.Event, error] {
		return wrap(tm.Stream(rctx, task, opts...))
	}
	if o.approve {
		// The prompts go where the live text goes, or to standard error so
		// that JSON and Markdown output stay clean.
		prompt := stderr
		if o.format == "text" {
			prompt = stdout
		}
		show := onEvent
		onEvent = func(e team.Event) {
			if show != nil {
				show(e)
			}
			if e.Type == team.EventApprovalDecided && e.Decision != nil {
				fmt.Fprintln(prompt, decisionLine(*e.Decision))
			}
		}
		in := bufio.NewReader(cmd.InOrStdin()) // one reader for both questions
		ask := deskDecider(spec, in, prompt, localPerson(), time.Now)
		decide := func(r *team.Result) (team.Decision, error) {
			stopLive() // the status line would draw over the question
			stopLive = func() {}
			d, err := ask(r)
			if printer != nil && isTerminal(stdout) {
				stopLive = printer.Live(100 * time.Millisecond)
			}
			return d, err
		}
		askTool := terminalToolDecider(in, prompt, localPerson(), time.Now)
		decideTool := func(cp team.Checkpoint) (team.Event, error) {
			stopLive()
			stopLive = func() {}
			ev, err := askTool(cp)
			if printer != nil && isTerminal(stdout) {
				stopLive = printer.Live(100 * time.Millisecond)
			}
			return ev, err
		}
		res, runErr = runWithApproval(stream, task, opts, onEvent, decide, decideTool)
	} else {
		res, runErr = runWithApproval(stream, task, opts, onEvent, nil, denyTools(time.Now))
	}
	stopLive()

	switch o.format {
	case "text":
		printer.Summary(res, stack.Info.Model)
	case "json":
		if err := writeJSON(stdout, res, stack.Info, spec, security); err != nil {
			return err
		}
	case "markdown":
		writeMarkdown(stdout, res, spec)
	}
	if runErr != nil {
		if interrupted(ctx) {
			return runErr // exitCode says "interrupted"
		}
		fmt.Fprintf(stderr, "newsroom: the run failed after %s: %v\n", console.Plural(len(res.Messages), "message", "messages"), runErr)
		return fmt.Errorf("%w: %w", errRunFailed, runErr)
	}
	if err := groundingFailure(res); err != nil {
		fmt.Fprintf(stderr, "newsroom: %v\n", err)
		return fmt.Errorf("%w: %w", errRunFailed, err)
	}
	if stack.Info.Emulated && o.format == "text" {
		fmt.Fprintln(stderr, "(emulator output: not written by a language model)")
	}
	if o.approve && res.StopReason == team.StopRejected {
		fmt.Fprintln(stderr, "newsroom: "+errRejected.Error())
		return fmt.Errorf("%w: %w", errRunFailed, errRejected)
	}
	return nil
}

// runDesk returns the desk of --team-file, or the shipped desk --team names.
func runDesk(o *runOptions) (*desk.Spec, error) {
	if o.teamFile != "" {
		d, err := desk.LoadFile(o.teamFile, desk.LoadOptions{})
		if err != nil {
			return nil, teamFileError(err)
		}
		return d.Spec, nil
	}
	d, ok := desk.NewRegistry().Get(o.team)
	if !ok {
		return nil, usageErrorf("--team must be one of %s, not %q (or use --team-file)", strings.Join(desk.Teams, ", "), o.team)
	}
	return d.Spec, nil
}

// checkDeployments refuses a desk that names a deployment this stack does
// not know, and a --selector-deployment on a desk without a selector.
func checkDeployments(o *runOptions, spec *desk.Spec, stack *modelStack) error {
	if o.effort != "" {
		if p := stack.Profile(""); p.Known() && p.Reasoning && !p.AcceptsEffort(o.effort) {
			return usageErrorf("--reasoning-effort %q: %s has %s", o.effort, p.Name, strings.Join(p.Efforts, ", "))
		} else if !p.Known() && !p.AcceptsEffort(o.effort) {
			return usageErrorf("--reasoning-effort %q: want none, minimal, low, medium or high", o.effort)
		}
	}
	known := knownDeployments(stack)
	if o.selectorDep != "" {
		if spec.Kind != desk.Selector {
			return usageErrorf("--selector-deployment: the %s desk has no selector (it is %s)", spec.Name, spec.Kind)
		}
		if known != nil && !slices.Contains(known, o.selectorDep) {
			return fmt.Errorf("%w: --selector-deployment: unknown deployment %q; known: %s (list more in %s)", errConfig,
				o.selectorDep, strings.Join(known, ", "), deploymentsEnv)
		}
	}
	if o.teamFile == "" {
		return nil
	}
	if _, err := desk.LoadFile(o.teamFile, desk.LoadOptions{Deployments: known, Profile: stack.Profile}); err != nil {
		return teamFileError(err)
	}
	return nil
}

// newRunID returns a random id for a CLI run (logs, spans).
func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "run_" + hex.EncodeToString(b[:])
}

const emulatorNotice = `newsroom: no model is configured, so newsroom uses its built-in offline emulator.
  Its articles are NOT written by a language model: they are a deterministic stand-in.
  To use Azure OpenAI, set AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_DEPLOYMENT (in the
  environment or a .env file) and either AZURE_OPENAI_API_KEY or an Entra ID identity
  (az login, a managed identity or AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET);
  check it with: newsroom auth check
`
