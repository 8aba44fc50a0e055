package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/emutest"
	"github.com/newsroom-dev/newsroom/model"
	"github.com/newsroom-dev/newsroom/team"
)

var fixedNow = func() time.Time { return time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC) }

func waitingResult() *team.Result {
	return &team.Result{Messages: []agent.Message{{Source: desk.Reporter, Content: "Bike lane approved\n\nThe council approved it."},
		{Source: desk.Editor, Content: "Good.\nAPPROVE"}}, StopReason: team.StopAwaitingApproval}
}

func streamOf(tm team.Team, task string) func(...team.RunOption) iter.Seq2[team.Event, error] {
	return func(opts ...team.RunOption) iter.Seq2[team.Event, error] {
		return tm.Stream(context.Background(), task, opts...)
	}
}

func TestTerminalDecider(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, input string
		want        team.Decision
		wantErr     bool
	}{
		{"approve", "a\n", team.Decision{Decision: team.DecisionApprove}, false},
		{"reject spelled out", "Reject\n", team.Decision{Decision: team.DecisionReject}, false},
		{"revise with a two-line note", "r\nName the councillor.\nAdd the cost.\n\n",
			team.Decision{Decision: team.DecisionRevise, Note: "Name the councillor.\nAdd the cost."}, false},
		{"an unknown answer asks again", "publish\na\n", team.Decision{Decision: team.DecisionApprove}, false},
		{"a revision without a note asks again", "r\n\nj\n", team.Decision{Decision: team.DecisionReject}, false},
		{"a note ended by end of input", "r\nShorter, please.", team.Decision{Decision: team.DecisionRevise, Note: "Shorter, please."}, false},
		{"end of input is no decision", "", team.Decision{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			d, err := terminalDecider(strings.NewReader(c.input), &out, "local:eic", fixedNow)(waitingResult())
			if c.wantErr {
				if err == nil {
					t.Fatalf("decision %+v, want an error", d)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c.want.By, c.want.At = "local:eic", fixedNow()
			if d != c.want {
				t.Fatalf("decision %+v, want %+v", d, c.want)
			}
			if !strings.Contains(out.String(), "The council approved it.") {
				t.Fatalf("the article was not shown:\n%s", out.String())
			}
		})
	}
}

// TestTerminalDecider_ACappedRunIsApprovedOrRejectedOnly checks the
// question for a run a cap ended: it names the cap, offers approve or
// reject, and refuses a revision (asking again).
func TestTerminalDecider_ACappedRunIsApprovedOrRejectedOnly(t *testing.T) {
	t.Parallel()
	capped := waitingResult()
	capped.Capped = "max messages reached (2)"
	for _, c := range []struct {
		name, input string
		want        string
	}{
		{"a revision asks again", "r\na\n", team.DecisionApprove},
		{"reject", "j\n", team.DecisionReject},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out strings.Builder
			d, err := terminalDecider(strings.NewReader(c.input), &out, "local:eic", fixedNow)(capped)
			if err != nil || d.Decision != c.want {
				t.Fatalf("decision %+v err %v, want %s", d, err, c.want)
			}
			for _, want := range []string{"max messages reached (2)", "Approve or reject? [a/j]"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("the question lacks %q:\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String(), "revise or reject") {
				t.Errorf("a capped run is offered a revision:\n%s", out.String())
			}
		})
	}
}

func TestRunWithApproval_ReviseReachesTheReporterThenApprove(t *testing.T) {
	t.Parallel()
	emu, client := emutest.Start(t, emulator.Config{}, "gpt-4o", nil)
	tm, err := desk.New(desk.Config{Client: client, Model: "gpt-4o"})
	if err != nil {
		t.Fatal(err)
	}
	const note = "Name the street in the headline."
	asked := 0
	decide := func(res *team.Result) (team.Decision, error) {
		asked++
		if asked == 1 {
			return team.Decision{Decision: team.DecisionRevise, Note: note, By: "local:eic"}, nil
		}
		return team.Decision{Decision: team.DecisionApprove, By: "local:eic"}, nil
	}
	var decided []string
	res, err := runWithApproval(streamOf(tm, "Facts: The council approved a bike lane on Main Street."), "Facts: The council approved a bike lane on Main Street.", nil,
		func(e team.Event) {
			if e.Type == team.EventApprovalDecided {
				decided = append(decided, decisionLine(*e.Decision))
			}
		}, decide, denyTools(time.Now))
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != team.StopApproved || asked != 2 || len(res.Decisions) != 2 || len(decided) != 2 {
		t.Fatalf("stop %q after %d questions, decisions %+v, shown %q", res.StopReason, asked, res.Decisions, decided)
	}
	// The reporter's first request after the revision ends with the note.
	var reporter []emulator.RecordedRequest
	for _, r := range emu.Requests() {
		if len(r.Messages) > 0 && strings.HasPrefix(r.Messages[0].Content, "You are "+desk.Reporter) {
			reporter = append(reporter, r)
		}
	}
	found := false
	for _, r := range reporter {
		last := r.Messages[len(r.Messages)-1]
		if last.Role == model.RoleUser && last.Name == team.EditorInChief && last.Content == note {
			found = true
		}
	}
	if !found {
		t.Fatalf("no reporter request ends with the editor-in-chief's note; %d reporter requests", len(reporter))
	}
}

func TestRunWithApproval_RejectAndNoDecision(t *testing.T) {
	t.Parallel()
	_, client := emutest.Start(t, emulator.Config{}, "gpt-4o", nil)
	tm, err := desk.New(desk.Config{Client: client, Model: "gpt-4o"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := runWithApproval(streamOf(tm, "Facts: A library opened."), "Facts: A library opened.", nil, nil,
		func(*team.Result) (team.Decision, error) {
			return team.Decision{Decision: team.DecisionReject, By: "x"}, nil
		}, denyTools(time.Now))
	if err != nil || res.StopReason != team.StopRejected {
		t.Fatalf("stop %q err %v", res.StopReason, err)
	}
	_, err = runWithApproval(streamOf(tm, "Facts: A library opened."), "Facts: A library opened.", nil, nil,
		func(*team.Result) (team.Decision, error) { return team.Decision{}, io.EOF }, denyTools(time.Now))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("err %v, want the decider's", err)
	}
}

func TestRunApprove_WithoutATerminalIsAUsageError(t *testing.T) {
	t.Parallel()
	env, dir := cleanEnv(t)
	r := runBinary(t, env, dir, "run", "--approve", facts)
	if r.code != 2 || !strings.Contains(r.stderr, "--approve") || !strings.Contains(r.stderr, "not a terminal") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "News_Reporter") {
		t.Fatal("the run started without a terminal to ask on")
	}
}

// runOnTerminal runs the binary with a pseudo-terminal as standard input and
// types input into it.
func runOnTerminal(t *testing.T, input string, args ...string) result {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("pty: %v", err)
	}
	defer ptmx.Close()
	go func() { _, _ = io.Copy(io.Discard, ptmx) }() // the terminal's echo
	env, dir := cleanEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, buildBinary(t), args...)
	cmd.Env, cmd.Dir, cmd.Stdin = env, dir, tty
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child has its own copy
	if _, err := ptmx.Write([]byte(input)); err != nil {
		t.Fatal(err)
	}
	return resultOf(t, cmd.Wait(), &out, &errb)
}

func TestRunApprove_OnATerminal(t *testing.T) {
	t.Run("revise then approve exits 0", func(t *testing.T) {
		r := runOnTerminal(t, "r\nGive the cost in the lead.\n\na\n", "run", "--approve", facts)
		if r.code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{"for the editor-in-chief", "Approve, revise or reject?",
			"Editor-in-chief: sent back for revision by local", "Give the cost in the lead.",
			"---------- Editor_in_Chief ----------", "Editor-in-chief: APPROVED by local", "Finish reason: approved"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q", want)
			}
		}
		if t.Failed() {
			t.Logf("stdout:\n%s", r.stdout)
		}
	})
	t.Run("a capped run waits, cannot be revised, and is approved", func(t *testing.T) {
		r := runOnTerminal(t, "r\na\n", "run", "--approve", "--max-messages", "1", facts)
		if r.code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		for _, want := range []string{"stopped at a limit before its editor approved (max messages reached (1))",
			"Approve or reject? [a/j]", "nothing left to revise with", "Editor-in-chief: APPROVED by local", "Finish reason: approved"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout lacks %q", want)
			}
		}
		if t.Failed() {
			t.Logf("stdout:\n%s", r.stdout)
		}
	})
	t.Run("a capped run rejected exits 1", func(t *testing.T) {
		r := runOnTerminal(t, "j\n", "run", "--approve", "--max-messages", "1", facts)
		if r.code != 1 || !strings.Contains(r.stdout, "Approve or reject? [a/j]") || !strings.Contains(r.stdout, "Editor-in-chief: REJECTED") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("reject exits 1", func(t *testing.T) {
		r := runOnTerminal(t, "j\n", "run", "--approve", facts)
		if r.code != 1 || !strings.Contains(r.stdout, "Editor-in-chief: REJECTED") || !strings.Contains(r.stderr, "rejected") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
}
