package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/console"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/telemetry"
	"github.com/newsroom-dev/newsroom/termination"
)

// runRun writes an article for a task and prints it as text, JSON or Markdown.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	teamKind := fs.String("team", desk.RoundRobin, "team: roundrobin or selector")
	format := fs.String("format", "text", "output: text (live), json or markdown")
	maxMessages := fs.Int("max-messages", 0, "stop after N agent messages (0: 10 for roundrobin, 20 for selector)")
	timeout := fs.Duration("timeout", 10*time.Minute, "deadline for the whole run")
	budgetUSD := fs.Float64("budget-usd", 0, "stop before the run would cost more than this (0: no budget)")
	maxTokens := fs.Int("max-tokens-total", 0, "stop before the run would use more tokens than this (0: no limit)")
	mf := addModelFlags(fs)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	task := strings.TrimSpace(strings.Join(fs.Args(), " "))
	switch {
	case task == "":
		return fmt.Errorf("%w: run needs a TASK, e.g. newsroom run \"Write a short article about ...\"", errUsage)
	case *format != "text" && *format != "json" && *format != "markdown":
		return fmt.Errorf("%w: --format must be text, json or markdown, not %q", errUsage, *format)
	case *teamKind != desk.RoundRobin && *teamKind != desk.Selector:
		return fmt.Errorf("%w: --team must be roundrobin or selector, not %q", errUsage, *teamKind)
	case *maxMessages < 0 || *budgetUSD < 0 || *maxTokens < 0:
		return fmt.Errorf("%w: --max-messages, --budget-usd and --max-tokens-total must not be negative", errUsage)
	}

	stack, err := buildModel(ctx, mf, stderr, stackOptions{})
	if err != nil {
		return err
	}
	defer stack.Close()
	if stack.Info.Emulated {
		fmt.Fprint(stderr, emulatorNotice)
	}

	client := stack.RunClient(*budgetUSD, *maxTokens)
	tm, err := desk.New(desk.Config{Team: *teamKind, Client: client, MaxMessages: *maxMessages,
		Extra: termination.Timeout(*timeout)})
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}

	var printer *console.Printer
	if *format == "text" {
		printer = console.New(stdout)
	}
	runID := newRunID()
	obs := telemetry.NewRunObserver(stack.Tel, telemetry.RunInfo{RunID: runID, Team: *teamKind, Logger: stack.Logger})
	rctx := obs.Start(ctx)
	events := obs.Wrap(rctx, tm.Stream(rctx, task, team.WithStreaming(*format == "text"), team.WithRunID(runID),
		team.WithTurnContext(obs.TurnContext), team.WithSelectContext(obs.SelectContext)))
	var onEvent func(team.Event)
	if printer != nil {
		onEvent = printer.Handle
	}
	res, runErr := team.Collect(task, team.Checkpoint{}, events, onEvent)

	switch *format {
	case "text":
		printer.Summary(res, stack.Info.Model)
	case "json":
		if err := writeJSON(stdout, res, stack.Info.Model); err != nil {
			return err
		}
	case "markdown":
		if len(res.Messages) > 0 {
			fmt.Fprint(stdout, desk.ArticleOf(res.Messages).Markdown())
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "newsroom: the run failed after %d messages: %v\n", len(res.Messages), runErr)
		return fmt.Errorf("%w: %w", errRunFailed, runErr)
	}
	if stack.Info.Emulated && *format == "text" {
		fmt.Fprintln(stderr, "(emulator output: not written by a language model)")
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

// jsonResult is the document `run --format json` prints.
type jsonResult struct {
	StopReason string               `json:"stop_reason"`
	Messages   []jsonMessage        `json:"messages"`
	Usage      jsonUsage            `json:"usage"`
	CostUSD    float64              `json:"cost_usd"`
	PerAgent   map[string]jsonAgent `json:"per_agent"`
	DurationMS int64                `json:"duration_ms"`
	Model      string               `json:"model"`
	Article    *desk.Article        `json:"article,omitempty"`
}

type jsonMessage struct {
	Source  string    `json:"source"`
	Content string    `json:"content"`
	Usage   jsonUsage `json:"usage"`
	CostUSD float64   `json:"cost_usd"`
	Cached  bool      `json:"cached,omitempty"`
}

type jsonUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

type jsonAgent struct {
	jsonUsage
	Requests int     `json:"requests"`
	CostUSD  float64 `json:"cost_usd"`
}

func writeJSON(w io.Writer, res *team.Result, modelName string) error {
	out := jsonResult{
		StopReason: res.StopReason,
		Messages:   []jsonMessage{{Source: agent.SourceUser, Content: res.Task}},
		Usage:      jsonUsage{res.Usage.PromptTokens, res.Usage.CompletionTokens},
		CostUSD:    res.Usage.CostUSD,
		PerAgent:   map[string]jsonAgent{},
		DurationMS: res.Duration.Milliseconds(),
		Model:      modelName,
	}
	for _, m := range res.Messages {
		out.Messages = append(out.Messages, jsonMessage{Source: m.Source, Content: m.Content,
			Usage: jsonUsage{m.Usage.PromptTokens, m.Usage.CompletionTokens}, CostUSD: m.Usage.CostUSD, Cached: m.Cached})
	}
	for name, u := range res.PerAgent {
		out.PerAgent[name] = jsonAgent{jsonUsage{u.PromptTokens, u.CompletionTokens}, u.Requests, u.CostUSD}
	}
	if len(res.Messages) > 0 {
		a := desk.ArticleOf(res.Messages)
		out.Article = &a
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return errors.Join(errRunFailed, err)
	}
	return nil
}
