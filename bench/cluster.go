package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/newsroom-dev/newsroom/emulator"
	"github.com/newsroom-dev/newsroom/internal/proc"
)

// ClusterOptions configure a Cluster: real `newsroom serve` processes on one
// PostgreSQL database, all calling one emulator (served by this process, so
// its recorded requests can be read).
type ClusterOptions struct {
	// Command runs newsroom (the binary, with any leading arguments); the
	// cluster appends "serve ..." or "keys create ...". Required.
	Command []string
	// Instances is how many serve processes to start; 0 means 2.
	Instances int
	// DatabaseURL is an empty PostgreSQL database for the cluster. Required.
	DatabaseURL string
	// RedisURL, when set, is given to every instance (NEWSROOM_REDIS_URL):
	// the shared quota windows, key limits and Redis pub/sub.
	RedisURL string
	// Emulator configures the emulator; its APIKey is set by the cluster and
	// every request is recorded.
	Emulator emulator.Config
	// RPM and TPM are the quota the instances are told (NEWSROOM_RPM and
	// NEWSROOM_TPM); 0 leaves the defaults.
	RPM, TPM int
	// Workers is each instance's --workers; 0 means auto.
	Workers int
	// Dir holds the instances' logs and working directories. Required.
	Dir string
}

// Cluster is a running set of serve processes, their database and emulator.
type Cluster struct {
	// Emulator is the model every instance calls.
	Emulator *emulator.Running
	// Instances are the serve processes, in start order.
	Instances []*Instance

	opts ClusterOptions
	db   *pgxpool.Pool
	key  string
	http *http.Client
}

// Instance is one `newsroom serve` process.
type Instance struct {
	// Index is its position in Cluster.Instances; Name prefixes its
	// instance id in run claims (WEBSITE_INSTANCE_ID).
	Index int
	Name  string
	// URL is its base URL while it runs.
	URL string
	// LogPath is the file its stdout and stderr go to.
	LogPath string

	cmd    *exec.Cmd
	exited chan struct{}
}

// clusterAPIKey is the emulator's key in the cluster benchmark (loopback only).
const clusterAPIKey = "cluster-bench-key"

// StartCluster starts the emulator and the instances and creates an admin
// API key; Close stops them all.
func StartCluster(ctx context.Context, o ClusterOptions) (*Cluster, error) {
	if len(o.Command) == 0 || o.DatabaseURL == "" || o.Dir == "" {
		return nil, fmt.Errorf("%w: cluster needs Command, DatabaseURL and Dir", ErrConfig)
	}
	if o.Instances <= 0 {
		o.Instances = 2
	}
	o.Emulator.APIKey = clusterAPIKey
	if o.Emulator.MaxRecorded == 0 {
		o.Emulator.MaxRecorded = 1 << 20
	}
	em, err := emulator.Start(o.Emulator, emulator.Options{})
	if err != nil {
		return nil, err
	}
	c := &Cluster{Emulator: em, opts: o, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	fail := func(err error) (*Cluster, error) { c.Close(); return nil, err }
	if c.db, err = pgxpool.New(ctx, o.DatabaseURL); err != nil {
		return fail(fmt.Errorf("bench: cluster database: %w", err))
	}
	// keys create migrates the schema before any instance starts.
	if c.key, err = c.createKey(ctx); err != nil {
		return fail(err)
	}
	for i := range o.Instances {
		c.Instances = append(c.Instances, &Instance{Index: i, Name: fmt.Sprintf("node-%d", i),
			LogPath: filepath.Join(o.Dir, fmt.Sprintf("node-%d.log", i))})
	}
	var wg sync.WaitGroup
	errs := make([]error, len(c.Instances))
	for i, in := range c.Instances {
		wg.Go(func() { errs[i] = c.start(ctx, in) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	return c, nil
}

// env is an instance's environment: the emulator as its Azure deployment,
// the shared database, no response cache (a cached answer would hide a
// repeated call).
func (c *Cluster) env(in *Instance) []string {
	home := filepath.Join(c.opts.Dir, in.Name)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"AZURE_OPENAI_ENDPOINT=" + c.Emulator.URL, "AZURE_OPENAI_DEPLOYMENT=" + Deployment,
		"AZURE_OPENAI_API_KEY=" + clusterAPIKey, "NEWSROOM_CACHE=off",
		"NEWSROOM_DATABASE_URL=" + c.opts.DatabaseURL, "WEBSITE_INSTANCE_ID=" + in.Name,
		"GOTRACEBACK=all"}
	if c.opts.RedisURL != "" {
		env = append(env, "NEWSROOM_REDIS_URL="+c.opts.RedisURL)
	}
	if c.opts.RPM > 0 {
		env = append(env, fmt.Sprintf("NEWSROOM_RPM=%d", c.opts.RPM))
	}
	if c.opts.TPM > 0 {
		env = append(env, fmt.Sprintf("NEWSROOM_TPM=%d", c.opts.TPM))
	}
	return env
}

func (c *Cluster) createKey(ctx context.Context) (string, error) {
	home := filepath.Join(c.opts.Dir, "keys")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return "", fmt.Errorf("bench: %w", err)
	}
	cmd := exec.CommandContext(ctx, c.opts.Command[0], append(c.opts.Command[1:], "keys", "create", "--name", "cluster-bench", "--role", "admin")...)
	cmd.Env = c.env(&Instance{Name: "keys"})
	cmd.Dir = home
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("bench: newsroom keys create: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// start starts (or restarts) an instance on a free port and waits until it
// answers /readyz.
func (c *Cluster) start(ctx context.Context, in *Instance) error {
	home := filepath.Join(c.opts.Dir, in.Name)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	var lastErr error
	for range 3 { // a free port can be taken between FreePort and the bind
		port, err := proc.FreePort()
		if err != nil {
			return err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		args := append(c.opts.Command[1:len(c.opts.Command):len(c.opts.Command)], "serve", "--addr", addr,
			"--rate-limit", "-1", "--auth-failure-rate", "-1", "--grace", "10s", "--drain-delay", "0s",
			fmt.Sprintf("--workers=%d", c.opts.Workers))
		cmd := exec.Command(c.opts.Command[0], args...)
		cmd.Env, cmd.Dir = c.env(in), home
		log, err := os.OpenFile(in.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		cmd.Stdout, cmd.Stderr = log, log
		err = proc.Start(cmd)
		log.Close()
		if err != nil {
			return fmt.Errorf("bench: start %s: %w", in.Name, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		in.cmd, in.exited, in.URL = cmd, exited, "http://"+addr
		if lastErr = c.waitReady(ctx, in, time.Minute); lastErr == nil {
			return nil
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	return fmt.Errorf("bench: %s did not start: %w (log: %s)", in.Name, lastErr, in.LogPath)
}

func (c *Cluster) waitReady(ctx context.Context, in *Instance, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-in.exited:
			return errors.New("the process exited")
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.URL+"/readyz", nil)
		resp, err := c.http.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/readyz: %s", resp.Status)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.Join(err, ctx.Err())
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
}

// Kill ends instance i at once (SIGKILL to its process group), like a
// crashed host, and returns when it is gone.
func (c *Cluster) Kill(i int) time.Time {
	in := c.Instances[i]
	_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
	at := time.Now()
	<-in.exited
	return at
}

// Restart starts instance i again after Kill, as a new process (a new
// instance id).
func (c *Cluster) Restart(ctx context.Context, i int) error {
	return c.start(ctx, c.Instances[i])
}

// Close stops the instances (SIGTERM, then SIGKILL), the emulator and the
// database connections.
func (c *Cluster) Close() {
	var wg sync.WaitGroup
	for _, in := range c.Instances {
		if in.cmd != nil {
			wg.Go(func() {
				_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGTERM)
				select {
				case <-in.exited:
				case <-time.After(15 * time.Second):
					_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
					<-in.exited
				}
			})
		}
	}
	wg.Wait()
	if c.db != nil {
		c.db.Close()
	}
	_ = c.Emulator.Close()
}

// Submit creates a run of the round-robin desk on instance i and returns its id.
func (c *Cluster) Submit(ctx context.Context, i int, task string) (string, error) {
	body, _ := json.Marshal(map[string]string{"task": task})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Instances[i].URL+"/v1/runs", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("bench: submit to %s: %w", c.Instances[i].Name, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("bench: submit to %s: %s: %s", c.Instances[i].Name, resp.Status, bytes.TrimSpace(data))
	}
	var run struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &run); err != nil || run.ID == "" {
		return "", fmt.Errorf("bench: submit to %s: no run id in %s", c.Instances[i].Name, data)
	}
	return run.ID, nil
}

// Received is one durable event a follower received.
type Received struct {
	Seq  int64
	Type string
	At   time.Time
}

// Follow is a client reading a run's event stream from one instance.
type Follow struct {
	// Connected is when the stream's headers arrived: events stored
	// after it were delivered live, earlier ones replayed.
	Connected time.Time

	mu       sync.Mutex
	events   []Received
	finished bool
	err      error
	done     chan struct{}
}

// Follow opens GET /v1/runs/{id}/events on instance i and reads it in the
// background until run_finished, the end of the stream or ctx.
func (c *Cluster) Follow(ctx context.Context, i int, id string) (*Follow, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Instances[i].URL+"/v1/runs/"+id+"/events", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: follow on %s: %w", c.Instances[i].Name, err)
	}
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, fmt.Errorf("bench: follow on %s: %s: %s", c.Instances[i].Name, resp.Status, bytes.TrimSpace(data))
	}
	f := &Follow{Connected: time.Now(), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer resp.Body.Close()
		f.read(resp.Body)
	}()
	return f, nil
}

func (f *Follow) read(r io.Reader) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 64<<10), 4<<20)
	var typ, data string
	for s.Scan() {
		line := s.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			typ = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		case line == "" && data != "":
			at := time.Now()
			var ev struct {
				Seq int64 `json:"seq"`
			}
			if err := json.Unmarshal([]byte(data), &ev); err == nil && ev.Seq > 0 {
				f.mu.Lock()
				f.events = append(f.events, Received{Seq: ev.Seq, Type: typ, At: at})
				if typ == "run_finished" {
					f.finished = true
				}
				f.mu.Unlock()
			}
			if typ == "run_finished" {
				return
			}
			typ, data = "", ""
		}
	}
	f.mu.Lock()
	f.err = s.Err()
	f.mu.Unlock()
}

// Wait waits until the stream ended or ctx is done and returns the durable
// events received and whether run_finished was among them.
func (f *Follow) Wait(ctx context.Context) ([]Received, bool, error) {
	select {
	case <-f.done:
	case <-ctx.Done():
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Received(nil), f.events...), f.finished, f.err
}

// RunState is a run's row as the database has it.
type RunState struct {
	ID, Status, Error string
	// ClaimedBy is the instance id holding the claim ("" for none).
	ClaimedBy string
	Token     int64
}

// Runs reads the runs' rows.
func (c *Cluster) Runs(ctx context.Context, ids []string) (map[string]RunState, error) {
	rows, err := c.db.Query(ctx, `SELECT id, status, error, COALESCE(claimed_by, ''), claim_token FROM runs WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("bench: reading runs: %w", err)
	}
	defer rows.Close()
	out := map[string]RunState{}
	for rows.Next() {
		var r RunState
		if err := rows.Scan(&r.ID, &r.Status, &r.Error, &r.ClaimedBy, &r.Token); err != nil {
			return nil, fmt.Errorf("bench: reading runs: %w", err)
		}
		out[r.ID] = r
	}
	return out, rows.Err()
}

// InstanceOf returns the index of the instance whose id is owner (-1 if none).
func (c *Cluster) InstanceOf(owner string) int {
	for _, in := range c.Instances {
		if strings.HasPrefix(owner, in.Name+"-") {
			return in.Index
		}
	}
	return -1
}

// finishedStatus reports whether a run status is terminal.
func finishedStatus(s string) bool {
	switch s {
	case "succeeded", "failed", "cancelled", "rejected", "expired":
		return true
	}
	return false
}

// WaitFinished polls until every run is finished or ctx ends, and returns
// their last states.
func (c *Cluster) WaitFinished(ctx context.Context, ids []string) (map[string]RunState, error) {
	for {
		runs, err := c.Runs(ctx, ids)
		if err != nil {
			return nil, err
		}
		done := 0
		for _, r := range runs {
			if finishedStatus(r.Status) {
				done++
			}
		}
		if done == len(ids) {
			return runs, nil
		}
		if ctx.Err() != nil {
			return runs, fmt.Errorf("bench: %d of %d runs finished: %w", done, len(ids), ctx.Err())
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

// StoredEvent is an event row of a run.
type StoredEvent struct {
	RunID   string
	Seq     int64
	Type    string
	Index   int
	Content string
	Stored  time.Time
}

// Events reads the runs' event logs, in order.
func (c *Cluster) Events(ctx context.Context, ids []string) ([]StoredEvent, error) {
	rows, err := c.db.Query(ctx, `SELECT run_id, seq, type, COALESCE((payload->>'index')::int, 0),
		COALESCE(payload->'message'->>'content', ''), created_at
		FROM events WHERE run_id = ANY($1) ORDER BY run_id, seq`, ids)
	if err != nil {
		return nil, fmt.Errorf("bench: reading events: %w", err)
	}
	defer rows.Close()
	var out []StoredEvent
	for rows.Next() {
		var e StoredEvent
		if err := rows.Scan(&e.RunID, &e.Seq, &e.Type, &e.Index, &e.Content, &e.Stored); err != nil {
			return nil, fmt.Errorf("bench: reading events: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// DuplicateMessages counts message events that repeat a position already
// in their run's log: a takeover must continue a run, not replay it.
func DuplicateMessages(events []StoredEvent) int {
	type pos struct {
		run   string
		index int
	}
	seen := map[pos]bool{}
	dups := 0
	for _, e := range events {
		if e.Type != "message" {
			continue
		}
		p := pos{e.RunID, e.Index}
		if seen[p] {
			dups++
		}
		seen[p] = true
	}
	return dups
}

// Repeats classifies the model calls that repeated a call already answered
// in full (same deployment, same messages).
type Repeats struct {
	// Calls is every repeated call.
	Calls int `json:"calls"`
	// Stored are the repeats whose answer was already in the run's event
	// log when the repeat was sent: a checkpointed call done again. It must
	// be 0.
	Stored int `json:"stored"`
	// LostInFlight are the repeats whose first answer never reached the
	// event log: an instance killed after the emulator sent the answer and
	// before it was stored (the window is the store write).
	LostInFlight int `json:"lost_in_flight"`
}

// CountRepeats finds, among the emulator's recorded chat requests from since
// on, those that repeat a call answered in full before they were sent.
func CountRepeats(reqs []emulator.RecordedRequest, events []StoredEvent, since time.Time) Repeats {
	stored := map[string]time.Time{} // message content -> first stored
	for _, e := range events {
		if e.Type == "message" {
			k := strings.TrimSpace(e.Content)
			if t, ok := stored[k]; !ok || e.Stored.Before(t) {
				stored[k] = e.Stored
			}
		}
	}
	sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].Start.Before(reqs[j].Start) })
	type done struct {
		end    time.Time
		answer string
	}
	completed := map[[32]byte][]done{}
	var r Repeats
	for _, q := range reqs {
		if !strings.HasSuffix(q.Path, "/chat/completions") || len(q.Messages) == 0 {
			continue
		}
		b, _ := json.Marshal(q.Messages)
		k := sha256.Sum256(append([]byte(q.Deployment+"\x00"), b...))
		if !q.Start.Before(since) {
			for _, d := range completed[k] {
				if !d.end.Before(q.Start) {
					continue
				}
				r.Calls++
				if t, ok := stored[strings.TrimSpace(d.answer)]; ok && d.answer != "" && t.Before(q.Start) {
					r.Stored++
				} else {
					r.LostInFlight++
				}
				break
			}
		}
		if q.Completed {
			completed[k] = append(completed[k], done{q.End, q.Answer})
		}
	}
	return r
}

// Panics returns the lines of the instances' logs that tell of a panic, a
// fatal runtime error or a data race.
func (c *Cluster) Panics() []string {
	var out []string
	for _, in := range c.Instances {
		data, err := os.ReadFile(in.LogPath)
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			if strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "fatal error:") ||
				strings.Contains(line, "WARNING: DATA RACE") || strings.Contains(line, "http: panic serving") {
				out = append(out, in.Name+": "+line)
			}
		}
	}
	return out
}
