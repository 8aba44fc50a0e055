package main

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/team"
)

// errRejected marks a run the person rejected: exit code 1.
var errRejected = errors.New("the editor-in-chief rejected the article")

// errNoTerminal is the usage error of --approve without a terminal to ask on.
var errNoTerminal = fmt.Errorf("%w: --approve asks for a decision on the terminal, but standard input is not a terminal", errUsage)

// stdinIsTerminal reports whether in is a terminal (Cygwin's too).
func stdinIsTerminal(in io.Reader) bool {
	f, ok := in.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// decider asks a person for a decision on a run that awaits approval.
type decider func(res *team.Result) (team.Decision, error)

// terminalDecider asks on in/out: it shows the article, then asks to approve,
// revise (with a typed note) or reject; for a run a cap ended (res.Capped),
// it says which cap and asks to approve or reject only. by says who decides.
func terminalDecider(in io.Reader, out io.Writer, by string, now func() time.Time) decider {
	return deskDecider(nil, in, out, by, now)
}

// deskDecider is terminalDecider showing the article of spec's writer; nil
// means the shipped desks' News_Reporter.
func deskDecider(spec *desk.Spec, in io.Reader, out io.Writer, by string, now func() time.Time) decider {
	articleOf := desk.ArticleOf
	if spec != nil {
		articleOf = spec.ArticleOf
	}
	r := bufio.NewReader(in)
	return func(res *team.Result) (team.Decision, error) {
		fmt.Fprintln(out)
		if res.Capped != "" {
			fmt.Fprintf(out, "=== The team stopped at a limit before its editor approved (%s). The article as it stands, for the editor-in-chief ===\n", res.Capped)
		} else {
			fmt.Fprintln(out, "=== The team is done. The article, for the editor-in-chief ===")
		}
		fmt.Fprintln(out)
		if art := articleOf(res.Messages); art.Body != "" {
			fmt.Fprintln(out, strings.TrimSpace(art.Markdown()))
		} else {
			fmt.Fprintln(out, "(the team wrote no article)")
		}
		fmt.Fprintln(out)
		for {
			if res.Capped != "" {
				fmt.Fprint(out, "Approve or reject? [a/j] ")
			} else {
				fmt.Fprint(out, "Approve, revise or reject? [a/r/j] ")
			}
			line, err := r.ReadString('\n')
			if err != nil && line == "" {
				return team.Decision{}, fmt.Errorf("no decision: %w", err)
			}
			d := team.Decision{By: by}
			switch strings.ToLower(strings.TrimSpace(line)) {
			case "a", "approve":
				d.Decision = team.DecisionApprove
			case "j", "reject":
				d.Decision = team.DecisionReject
			case "r", "revise":
				if res.Capped != "" {
					fmt.Fprintln(out, "The run reached a limit and has nothing left to revise with: answer a (approve) or j (reject).")
					continue
				}
				d.Decision = team.DecisionRevise
				note, err := readNote(r, out)
				if err != nil {
					return team.Decision{}, err
				}
				if note == "" {
					fmt.Fprintln(out, "A revision needs a note for the reporter.")
					continue
				}
				d.Note = note
			default:
				if res.Capped != "" {
					fmt.Fprintln(out, "Please answer a (approve) or j (reject).")
					continue
				}
				fmt.Fprintln(out, "Please answer a (approve), r (revise with a note) or j (reject).")
				continue
			}
			d.At = now().UTC()
			return d, nil
		}
	}
}

// readNote reads a note up to an empty line (or the end of input).
func readNote(r *bufio.Reader, out io.Writer) (string, error) {
	fmt.Fprintln(out, "Note for the reporter (end with an empty line):")
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if t := strings.TrimRight(line, "\r\n"); strings.TrimSpace(t) != "" {
			lines = append(lines, t)
		} else if err == nil {
			break
		}
		if err != nil {
			if len(lines) == 0 {
				return "", fmt.Errorf("no note: %w", err)
			}
			break
		}
	}
	return strings.TrimSpace(strings.Join(lines, "\n")), nil
}

// localPerson names the person at the terminal, for the decision record.
func localPerson() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "local:" + u.Username
	}
	return "local"
}

// runWithApproval runs a team that needs a person's approval: each time the
// team is done it asks decide, and goes on from the checkpoint with the
// decision until the person approves or rejects (a run a cap ended waits
// too, for approve or reject only).
// onEvent sees every event of every leg, and the decisions.
func runWithApproval(stream func(...team.RunOption) iter.Seq2[team.Event, error], task string, opts []team.RunOption,
	onEvent func(team.Event), decide decider, decideTool toolDecider) (*team.Result, error) {
	var cp team.Checkpoint
	var res *team.Result
	var d *team.Decision
	for leg := 0; ; leg++ {
		legOpts := append([]team.RunOption{}, opts...)
		if decide != nil {
			legOpts = append(legOpts, team.WithApproval(true))
		}
		if leg > 0 {
			legOpts = append(legOpts, team.WithCheckpoint(cp))
			if d != nil {
				legOpts = append(legOpts, team.WithDecision(*d))
			}
		}
		from := cp
		var err error
		res, err = team.Collect(task, from, stream(legOpts...), func(e team.Event) {
			cp.Apply(e)
			if onEvent != nil {
				onEvent(e)
			}
		})
		if err != nil {
			return res, err
		}
		d = nil
		switch {
		case res.StopReason == team.StopAwaitingToolApproval && cp.AwaitingTool != nil:
			ev, err := decideTool(cp)
			if err != nil {
				return res, err
			}
			cp.Apply(ev)
			if onEvent != nil {
				onEvent(ev)
			}
		case res.StopReason == team.StopAwaitingApproval && decide != nil:
			x, err := decide(res)
			if err != nil {
				return res, err
			}
			d = &x
		default:
			return res, nil
		}
	}
}

// toolDecider returns a person's decision on the call a run waits for (a
// team.EventToolDecided).
type toolDecider func(cp team.Checkpoint) (team.Event, error)

// terminalToolDecider asks on in/out whether the waiting call may run.
func terminalToolDecider(in io.Reader, out io.Writer, by string, now func() time.Time) toolDecider {
	r := bufio.NewReader(in)
	return func(cp team.Checkpoint) (team.Event, error) {
		a := cp.AwaitingTool
		fmt.Fprintln(out)
		fmt.Fprintf(out, "=== %s wants to call %s, a tool that acts ===\n", cmp.Or(a.Speaker, "An agent"), a.Tool)
		fmt.Fprintln(out, "Arguments: "+a.Arguments)
		for {
			fmt.Fprint(out, "Allow or deny? [a/d] ")
			line, err := r.ReadString('\n')
			if err != nil && line == "" {
				return team.Event{}, fmt.Errorf("no tool decision: %w", err)
			}
			switch strings.ToLower(strings.TrimSpace(line)) {
			case "a", "allow":
				return team.DecideTool(cp, team.ToolAllow, by, "", now())
			case "d", "deny":
				return team.DecideTool(cp, team.ToolDeny, by, "", now())
			}
			fmt.Fprintln(out, "Please answer a (allow) or d (deny).")
		}
	}
}

// denyTools denies every call to an acting tool: without --approve nobody
// is at the terminal to allow one.
func denyTools(now func() time.Time) toolDecider {
	return func(cp team.Checkpoint) (team.Event, error) {
		return team.DecideTool(cp, team.ToolDeny, "newsroom run", "nobody can approve it: the run was started without --approve", now())
	}
}

// decisionLine is how the console shows a decision.
func decisionLine(d team.Decision) string {
	switch d.Decision {
	case team.DecisionApprove:
		return "Editor-in-chief: APPROVED by " + d.By
	case team.DecisionReject:
		return "Editor-in-chief: REJECTED by " + d.By
	}
	return "Editor-in-chief: sent back for revision by " + d.By + ": " + d.Note
}
