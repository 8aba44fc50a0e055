package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/newsroom-dev/newsroom/agent"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/intake"
	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/tool/web"
)

// Azure Functions custom handler: the Functions host starts `newsroom
// functions` (host.json's customHandler), and for each invocation POSTs
// {"Data": {...}, "Metadata": {...}} to /FUNCTION_NAME on the port in
// FUNCTIONS_CUSTOMHANDLER_PORT, expecting {"Outputs", "Logs",
// "ReturnValue"}. An invocation creates a run in the shared store (or finds
// it created) and returns at once: the `serve` instances on the same store
// execute it. Nothing here waits for a model.

// Function names: the folders of deploy/functions.
const (
	pollFeedsFunction  = "poll-feeds"
	assignmentFunction = "assignment"
)

// invocation is the custom handler request payload.
type invocation struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
}

// invocationResult is the custom handler response payload.
type invocationResult struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
}

// functionsHandler serves the custom handler protocol over srv's intake: the
// timer polls the feeds, the queue trigger turns its message into a run of
// queueSource. A failed invocation answers 500, so the host retries it (and
// moves a queue message to NAME-poison after its maxDequeueCount).
func functionsHandler(srv *server.Server, queueSource string, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /"+pollFeedsFunction, func(w http.ResponseWriter, r *http.Request) {
		if _, err := readInvocation(w, r); err != nil {
			return
		}
		err := srv.PollFeeds(r.Context())
		res := invocationResult{Outputs: map[string]any{}, Logs: []string{"polled the intake feeds"}}
		if err != nil {
			log.Warn("functions: polling the feeds", "err", err)
			res.Logs = append(res.Logs, "some feeds failed: "+err.Error())
		}
		writeInvocation(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST /"+assignmentFunction, func(w http.ResponseWriter, r *http.Request) {
		inv, err := readInvocation(w, r)
		if err != nil {
			return
		}
		m, err := queueMessage(inv)
		if err != nil {
			writeInvocation(w, http.StatusBadRequest, invocationResult{Outputs: map[string]any{}, Logs: []string{err.Error()}})
			return
		}
		id, err := srv.AdmitQueueMessage(r.Context(), queueSource, m)
		if err != nil {
			log.Warn("functions: a queue message", "message", m.ID, "err", err)
			writeInvocation(w, http.StatusInternalServerError, invocationResult{Outputs: map[string]any{}, Logs: []string{err.Error()}})
			return
		}
		msg := "message " + m.ID + " started run " + id
		if id == "" {
			msg = "message " + m.ID + " deferred by the intake caps"
		}
		writeInvocation(w, http.StatusOK, invocationResult{Outputs: map[string]any{}, Logs: []string{msg}, ReturnValue: id})
	})
	return mux
}

func readInvocation(w http.ResponseWriter, r *http.Request) (*invocation, error) {
	var inv invocation
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&inv); err != nil {
		writeInvocation(w, http.StatusBadRequest, invocationResult{Outputs: map[string]any{}, Logs: []string{"not an invocation: " + err.Error()}})
		return nil, err
	}
	return &inv, nil
}

func writeInvocation(w http.ResponseWriter, status int, res invocationResult) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res)
}

// queueMessage reads a queue trigger's message: the binding "message" (its
// text, a JSON string, or the JSON the host decoded it into) and the
// trigger metadata's Id and DequeueCount.
func queueMessage(inv *invocation) (intake.Message, error) {
	raw, ok := inv.Data["message"]
	if !ok {
		return intake.Message{}, errors.New(`the invocation has no "message" in Data`)
	}
	var m intake.Message
	if err := json.Unmarshal(raw, &m.Text); err != nil {
		m.Text = string(raw) // an object the host parsed: its JSON is the text
	}
	if err := json.Unmarshal(inv.Metadata["Id"], &m.ID); err != nil || m.ID == "" {
		return intake.Message{}, errors.New(`the invocation's Metadata has no message "Id"`)
	}
	_ = json.Unmarshal(inv.Metadata["DequeueCount"], &m.DequeueCount)
	return m, nil
}

// registryTeams offers the desks by name only: `newsroom functions`
// creates runs, the serve instances build and execute their teams.
type registryTeams struct{ r *desk.Registry }

func (t registryTeams) Names() []string { return t.r.Names() }

func (t registryTeams) Team(string, server.TeamOptions) (team.Team, error) {
	return nil, errors.New("functions: runs execute on the serve instances, not here")
}

func (t registryTeams) MaxMessages(name string) int {
	if d, ok := t.r.Get(name); ok {
		return d.Spec.MaxMessages()
	}
	return 0
}

func (t registryTeams) Article(string, []agent.Message) string { return "" }

func newFunctionsCmd() *cobra.Command {
	var addr, intakePath, teamsDir, queueSource string
	var sf *storeFlags
	cmd := &cobra.Command{
		Use:   "functions [flags]",
		Short: "Serve the Azure Functions custom handler (intake timer and queue triggers)",
		Long: `Serve the Azure Functions custom handler of deploy/functions: the poll-feeds
timer polls the intake file's feeds, the assignment queue trigger turns one
queue message into one run. Runs are created in the store (PostgreSQL, shared
with the serve instances that execute them); an invocation returns at once.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serveFunctions(cmd, sf, addr, intakePath, teamsDir, queueSource)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&addr, "addr", "127.0.0.1:"+cmp.Or(os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT"), "7071"), "listen address (the host's FUNCTIONS_CUSTOMHANDLER_PORT)")
	fs.StringVar(&intakePath, "intake", os.Getenv(intakeFileEnv), "the intake file (env "+intakeFileEnv+")")
	fs.StringVar(&teamsDir, "teams-dir", "", "also offer the desks of this directory")
	fs.StringVar(&queueSource, "queue-source", os.Getenv("NEWSROOM_FUNCTIONS_QUEUE_SOURCE"), "the intake queue source the assignment trigger reads (default: the file's first queue source)")
	sf = addStoreFlags(fs, false)
	return cmd
}

func serveFunctions(cmd *cobra.Command, sf *storeFlags, addr, intakePath, teamsDir, queueSource string) error {
	ctx := cmd.Context()
	desks, err := loadRegistry(teamsDir)
	if err != nil {
		return err
	}
	if intakePath == "" {
		return usageErrorf("functions needs --intake or %s", intakeFileEnv)
	}
	f, err := loadIntake(intakePath, desks.Names())
	if err != nil {
		return err
	}
	if queueSource == "" {
		for _, s := range f.Sources {
			if s.Queue != nil {
				queueSource = s.Name
				break
			}
		}
	}
	cfg, err := sf.load(ctx)
	if err != nil {
		return err
	}
	st, storeDesc, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	log := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
	fetcher := web.New(web.Config{Allow: web.ParseAllow(cfg.FetchAllow), Logger: log})
	srv, err := server.New(server.Config{Store: st, Teams: registryTeams{desks}, Logger: log,
		FetchSources: fetcher.Sources,
		Intake: &server.IntakeConfig{File: f, HTTPClient: fetcher.Client(), NoPolling: true, AdmitOnly: true, DeferredSweep: -1,
			Secret: secretResolver()}})
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: listen on %s: %w", errConfig, addr, err)
	}
	hs := &http.Server{Handler: functionsHandler(srv, queueSource, log), ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(cmd.OutOrStdout(), "newsroom: functions custom handler on %s (store: %s, queue source: %s)\n", ln.Addr(), storeDesc, cmp.Or(queueSource, "none"))
	go func() { <-ctx.Done(); _ = hs.Shutdown(context.Background()) }()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("functions: %w", err)
	}
	return nil
}
