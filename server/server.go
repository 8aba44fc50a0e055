// Package server is the newsroom web service: a JSON API to submit, follow and
// cancel runs, a Server-Sent Events stream of each run's events, a bounded
// worker pool that checkpoints every event in the store and resumes unfinished
// runs after a restart, API-key authentication with per-key rate limits, and
// the embedded web page a journalist uses all day.
//
// Deltas (streamed text of the message in progress) are not stored: they are
// fanned out in memory only, sent as SSE events without an id, so a client's
// Last-Event-ID always names a durable event. A client that reconnects gets
// every durable event after that id exactly once (no gaps, no duplicates); the
// deltas it missed are superseded by the completed message event.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"iter"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/team"
)

// Config configures a Server. Store and Teams are required; every other zero
// value means the documented default.
type Config struct {
	// Store keeps runs, their events, the claims on them and the API keys.
	// Required.
	Store store.Store
	// Teams are the teams clients may ask for, and build each run's team.
	// Required.
	Teams Teams
	// TeamInfo describes the teams for GET /v1/teams and the web page;
	// a team without an entry is listed by name only.
	TeamInfo []TeamInfo
	// Workers is how many runs execute at once; 0 means SizeWorkers of
	// Quota, adapted to the observed calls when Calls is set.
	Workers int
	// Quota is the deployment's quota, from which a zero Workers is derived
	// (SizeWorkers).
	Quota Quota
	// Calls, when set and Workers is 0, are the model calls' observed sizes
	// and durations (CallStats, whose Middleware the caller puts in the
	// model stack): the number of runs executing at once follows
	// SizeWorkers of Quota with them, re-sized after each call, instead of
	// the assumed call size and duration. Queued runs still start in
	// submission order; the quota limiter stays the throttle.
	Calls *CallStats
	// QueueSize is how many submitted runs may wait; 0 means 64. A full queue
	// answers 429 with Retry-After.
	QueueSize int
	// MaxTaskBytes caps a run's task; 0 means 16 KiB.
	MaxTaskBytes int
	// Preflight, when set, refuses a task that can never fit the model
	// (preflight.CheckTask): POST /v1/runs answers 400 task_too_large with
	// its message (token count and limit) before anything is queued.
	Preflight func(task string) error
	// FetchSources reads the documents a run asks for ("sources"); nil
	// means the service refuses runs that ask for any.
	FetchSources FetchSources
	// MaxBodyBytes caps a request body; 0 means 64 KiB.
	MaxBodyBytes int64
	// MaxRunMessages caps a run's max_messages; 0 means 100.
	MaxRunMessages int
	// CORSOrigins are the origins allowed to call the API from a browser on
	// another origin; nil means none (CORS closed). "*" allows any origin.
	CORSOrigins []string
	// KeyRateLimit is the requests per minute allowed per API key (a token
	// bucket with a burst of the same size); 0 means 120, negative means no limit.
	KeyRateLimit int
	// KeyLimiter, when set, limits each key for the whole service (every
	// instance sharing it: server/redislimit over a shared Redis, or the
	// PostgreSQL store's KeyLimiter) instead of this process's buckets.
	// When it fails, this process's bucket decides, so an outage of the
	// shared limiter does not stop the service.
	KeyLimiter KeyLimiter
	// Heartbeat is the interval of SSE heartbeat comments; 0 means 15s.
	Heartbeat time.Duration
	// Logger receives the service's logs; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NewID makes run ids; nil means random "run_" ids.
	NewID func() string
	// ModelReady reports whether the model is configured and reachable, for
	// /readyz; nil means ready.
	ModelReady func(ctx context.Context) error
	// Metrics serves GET /metrics (the Prometheus exposition); nil means no
	// such route. It is behind an admin API key or MetricsKey unless
	// MetricsPublic.
	Metrics http.Handler
	// MetricsKey is a bearer secret that may read /metrics besides admin
	// keys (for a scraper that should hold no API key); empty means none.
	MetricsKey string
	// MetricsPublic serves /metrics to anyone.
	MetricsPublic bool
	// AuthFailureRate is how many requests a second one client address may
	// make without credentials or with bad ones (a token bucket); beyond it
	// they are refused with 429. A valid key is never refused by it. 0 means 20,
	// negative means no limit. AuthFailureBurst is the bucket's size; 0
	// means twice the rate.
	AuthFailureRate  float64
	AuthFailureBurst int
	// ClientIPHeader names the header the load balancer puts the client's
	// address in (App Service: "X-Forwarded-For"; its last entry is used);
	// empty means the connection's address.
	ClientIPHeader string
	// KeyCheckInterval is how often the keys of open event streams are
	// checked, so a revoked key's streams end; 0 means 500ms.
	KeyCheckInterval time.Duration
	// Emulator is true when the model is the built-in emulator; /readyz and
	// the page say so.
	Emulator bool
	// InstanceID names this instance in the run claims of a store shared
	// with other instances; nil means a random "inst_" id. Two live
	// instances must not share an id.
	InstanceID string
	// ClaimLease is how long a claim on a run lasts without renewal: when an
	// instance dies, the runs it held become claimable by others after at
	// most this long. 0 means 6s (with the default ScanInterval, a killed
	// instance's runs resume elsewhere within about 7s).
	ClaimLease time.Duration
	// ClaimRenew is how often the claims of executing runs are renewed;
	// 0 means a third of ClaimLease.
	ClaimRenew time.Duration
	// ScanInterval is how often the store is scanned for claimable runs
	// (queued runs whose claim expired, runs whose instance died) while
	// workers are idle; 0 means 1s, negative means only at Start.
	ScanInterval time.Duration
	// Instrument, when set, is called as a run starts executing (telemetry):
	// it returns the context to run in, extra run options, and a wrapper of
	// the run's event stream. Nil means none.
	Instrument func(ctx context.Context, runID, teamKind string) (context.Context, []team.RunOption, func(Events) Events)
	// Notifier tells the other instances sharing the store that a run has
	// new events, so their followers of it read them at once; nil means
	// this instance's followers only (one instance).
	Notifier Notifier
	// OIDC, when set, lets people sign in with OpenID Connect (Microsoft
	// Entra ID): bearer tokens on the API and a session cookie for the page.
	OIDC *OIDCConfig
	// RequireApproval makes runs wait for a person's decision when their
	// team is done, unless a run asks for "approval": "none".
	RequireApproval bool
	// ApprovalTimeout ends a run that waited this long for a decision as
	// expired; 0 means DefaultApprovalTimeout.
	ApprovalTimeout time.Duration
	// ApprovalSweep is how often waiting runs are checked against
	// ApprovalTimeout; 0 means a minute, negative means never.
	ApprovalSweep time.Duration
	// Intake, when set, lets the sources of an intake file (feeds, queues,
	// webhooks) start runs; see IntakeConfig.
	Intake *IntakeConfig
	// Publish is PublishAll or PublishApprovedOnly (see articles.go); ""
	// means approved-only with RequireApproval, all otherwise.
	Publish string
	// Disclosure is the reader-facing line that says how articles are made;
	// "" means DefaultDisclosure.
	Disclosure string
	// PublicArticles serves the article pages and feeds to anyone;
	// otherwise they need a key with the reader role.
	PublicArticles bool
	// Webhooks are receivers of every article event given at start (serve
	// --webhook), their deliveries signed with WebhookSecret.
	Webhooks      []string
	WebhookSecret string
	// WebhookAllow lets webhook targets through the network guard although
	// internal (NEWSROOM_FETCH_ALLOW; see web.NewGuard).
	WebhookAllow []string
	// WebhookPoll is how often the outbox of deliveries is polled; 0 means
	// 1s, negative means never (no deliveries from this instance).
	WebhookPoll time.Duration
	// WebhookBackoff is the wait before retry n (1, 2, ...); nil means the
	// default: the first within 30s, then exponential with jitter.
	WebhookBackoff func(n int) time.Duration
	// WebhookGiveUp is how long a delivery is retried before it is marked
	// failed; 0 means 24h.
	WebhookGiveUp time.Duration
}

// KeyLimiter limits the requests of each API key (name is the key's id).
type KeyLimiter interface {
	Allow(ctx context.Context, name string) (wait time.Duration, ok bool, err error)
}

// Events is a run's event stream, as team.Team.Stream returns it.
type Events = iter.Seq2[team.Event, error]

// Server is the newsroom web service. Build it with New, call Start, serve
// Handler, and call Shutdown to stop.
type Server struct {
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	newID func() string
	// store is Config.Store whole, for /readyz only; everything else asks
	// for the one role it uses.
	store    store.Store
	runs     store.Runs
	eventLog store.EventLog
	claims   store.Claims
	keyStore store.Keys
	queue    *queue
	hub      *hub
	limits   *limiter
	// userinfo caches what sign-ins' userinfo endpoints said (signin).
	userinfo *userinfoCache
	// methods is the route table's methods per path, for 405s (harden).
	methods *methodTable
	// authFails limits unauthenticated and failed requests per client address.
	authFails *limiter
	keys      *keyWatch
	mux       *http.ServeMux

	mu     sync.Mutex
	active map[string]*executor
	// pending are the claims that reserve the runs waiting in the queue.
	pending map[string]store.Claim

	draining atomic.Bool
	done     chan struct{} // closed by Shutdown: SSE streams end
	// runCtx bounds runs; cancelled when the shutdown grace period is over.
	runCtx   context.Context
	hardStop context.CancelFunc
	workers  sync.WaitGroup
	// gate lets workerLimit workers take runs at once; autoWorkers is set
	// when that limit follows the observed calls.
	gate        *workerGate
	autoWorkers bool
	// overflow counts the executors resumeBeyondLimit started past the
	// worker limit.
	overflow atomic.Int32
	// background is the scanner; it ends with done.
	background sync.WaitGroup
	startOnce  sync.Once
	stopOnce   sync.Once

	finished struct{ succeeded, failed, cancelled atomic.Int64 }

	// intake is nil without Config.Intake.
	intake *intakeDesk
}

// drainReason is the stop reason of a run interrupted by shutdown; such a run
// is not finished and resumes at the next start.
const drainReason = "server shutting down"

// cancelReason is the stop reason of a run cancelled by its owner.
const cancelReason = "cancelled by user"

var (
	errCancelled = errors.New("server: run cancelled by user")
	errLeaseLost = errors.New("server: run claim lost to another instance")
)

// New returns a Server, or an error when Store or Teams is missing.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Store is required")
	}
	if cfg.Teams == nil || len(cfg.Teams.Names()) == 0 {
		return nil, errors.New("server: Teams is required")
	}
	auto := cfg.Workers <= 0 && cfg.Calls != nil
	if cfg.Workers <= 0 {
		cfg.Workers = SizeWorkers(cfg.Quota)
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 64
	}
	if cfg.MaxTaskBytes <= 0 {
		cfg.MaxTaskBytes = 16 << 10
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.MaxRunMessages <= 0 {
		cfg.MaxRunMessages = 100
	}
	if cfg.KeyRateLimit == 0 {
		cfg.KeyRateLimit = 120
	}
	if cfg.AuthFailureRate == 0 {
		cfg.AuthFailureRate = 20
	}
	if cfg.AuthFailureBurst <= 0 {
		cfg.AuthFailureBurst = int(max(1, 2*cfg.AuthFailureRate))
	}
	if cfg.KeyCheckInterval <= 0 {
		cfg.KeyCheckInterval = 500 * time.Millisecond
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.InstanceID == "" {
		cfg.InstanceID = "inst_" + randomHex(8)
	}
	if cfg.ClaimLease <= 0 {
		cfg.ClaimLease = 6 * time.Second
	}
	if cfg.ClaimRenew <= 0 {
		cfg.ClaimRenew = cfg.ClaimLease / 3
	}
	if cfg.ScanInterval == 0 {
		cfg.ScanInterval = time.Second
	}
	if cfg.ApprovalTimeout <= 0 {
		cfg.ApprovalTimeout = DefaultApprovalTimeout
	}
	if cfg.ApprovalSweep == 0 {
		cfg.ApprovalSweep = time.Minute
	}
	if cfg.NewID == nil {
		cfg.NewID = func() string { return "run_" + randomHex(10) }
	}
	s := &Server{
		cfg:         cfg,
		log:         cfg.Logger,
		now:         cfg.Now,
		newID:       cfg.NewID,
		store:       cfg.Store,
		runs:        cfg.Store,
		eventLog:    cfg.Store,
		claims:      cfg.Store,
		keyStore:    cfg.Store,
		queue:       newQueue(cfg.QueueSize),
		hub:         newHub(),
		userinfo:    newUserinfoCache(),
		limits:      newLimiter(float64(cfg.KeyRateLimit)/60, float64(cfg.KeyRateLimit), cfg.Now),
		active:      map[string]*executor{},
		pending:     map[string]store.Claim{},
		done:        make(chan struct{}),
		autoWorkers: auto,
	}
	s.gate = newWorkerGate(s.workerLimit)
	if auto {
		cfg.Calls.notify(s.gate.wake)
	}
	if cfg.AuthFailureRate > 0 {
		s.authFails = newLimiter(cfg.AuthFailureRate, float64(cfg.AuthFailureBurst), cfg.Now)
	}
	s.keys = newKeyWatch(s.keyStore, cfg.KeyCheckInterval, s.done)
	s.runCtx, s.hardStop = context.WithCancel(context.Background())
	if cfg.Intake != nil {
		d, err := newIntakeDesk(context.Background(), s, *cfg.Intake)
		if err != nil {
			return nil, err
		}
		s.intake = d
	}
	s.mux = http.NewServeMux()
	var patterns []string
	for _, rt := range s.routes() {
		s.mux.HandleFunc(rt.pattern, rt.handler)
		patterns = append(patterns, rt.pattern)
	}
	s.methods = newMethodTable(patterns)
	return s, nil
}

// route is one entry of the mux; the OpenAPI test walks the same list.
type route struct {
	pattern string
	handler http.HandlerFunc
}

func (s *Server) routes() []route {
	var metrics []route
	if s.cfg.Metrics != nil {
		metrics = append(metrics, route{"GET /metrics", s.handleMetrics})
	}
	metrics = append(append(append(metrics, s.articleRoutes()...), s.feedRoutes()...), s.webhookRoutes()...)
	return append(metrics, []route{
		{"POST /v1/runs", s.authed(s.handleCreateRun)},
		{"GET /v1/runs", s.authed(s.handleListRuns)},
		{"GET /v1/runs/{id}", s.authed(s.handleGetRun)},
		{"GET /v1/runs/{id}/events", s.authed(s.handleEvents)},
		{"POST /v1/runs/{id}/cancel", s.authed(s.handleCancel)},
		{"POST /v1/runs/{id}/decision", s.authed(s.handleDecision)},
		{"POST /v1/runs/{id}/tool-decision", s.authed(s.handleToolDecision)},
		{"GET /v1/me", s.authed(s.handleMe)},
		{"GET /auth/login", s.handleLogin},
		{"GET /auth/callback", s.handleCallback},
		{"GET /auth/info", s.handleSignInInfo},
		{"POST /auth/logout", s.authed(s.handleLogout)},
		{"GET /v1/keys", s.authed(s.handleListKeys)},
		{"GET /v1/teams", s.authed(s.handleListTeams)},
		{"GET /v1/intake", s.authed(s.handleListIntake)},
		{"POST /v1/intake/{name}", s.handleIntakeDelivery},
		{"OPTIONS /v1/intake/{name}", s.handleIntakeHandshake},
		{"GET /healthz", s.handleHealthz},
		{"GET /readyz", s.handleReadyz},
		{"GET /openapi.json", s.handleOpenAPI},
		{"GET /", s.handleWeb},
	}...)
}

// Handler returns the service's HTTP handler: security headers and CORS
// around the routes.
func (s *Server) Handler() http.Handler {
	return s.secure(http.HandlerFunc(s.serveMux))
}

// serveMux routes a request. What no route matches (unknown path, wrong
// method) the mux answers itself in plain text; that answer is turned into
// the API's JSON error.
func (s *Server) serveMux(w http.ResponseWriter, r *http.Request) {
	if s.harden(w, r) {
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		w = &jsonErrorWriter{ResponseWriter: w, s: s, r: r}
	}
	s.mux.ServeHTTP(w, r) // it sets the path values Handler does not
}

// HTTPServer returns an http.Server for addr with the service's handler and
// connection timeouts. Its WriteTimeout applies to ordinary responses; the SSE
// endpoint extends its own deadlines per write.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Start starts the workers and the scanner, and queues the
// unfinished runs no live instance holds (queued, or running when their
// instance stopped or died), oldest first; they resume from their stored
// events. Call it once, before serving.
//
// Several instances may share one store: a worker executes a run only while
// it holds the run's claim (store.Claims) under Config.InstanceID, renews
// it every ClaimRenew while the run executes (the heartbeat), and releases
// it when the run ends or the instance shuts down, so another instance can
// resume it at once. Every write of the run's progress is fenced by the
// claim's token: an instance whose claim was taken over writes nothing more. A run submitted here is claimed at once and waits in this
// instance's queue; its claim is not renewed while it waits, so when it
// waits longer than ClaimLease another instance may take it over (whichever
// worker claims it first executes it, the other skips it). The scanner takes
// claimable runs every ScanInterval, as many as idle workers can start; a
// worker that frees up while runs wait in this queue first resumes a run a
// dead instance left mid-way, then starts a run another instance left
// queued if it was submitted before this queue's head (takeOrphaned): runs
// start in submission order across the instances.
func (s *Server) Start(ctx context.Context) error {
	var err error
	s.startOnce.Do(func() {
		var n int
		n, err = s.takeClaimable(ctx, max(100, s.cfg.QueueSize+s.workerLimit()))
		if err != nil {
			return
		}
		if n > 0 {
			s.log.Info("resuming unfinished runs", "count", n, "instance", s.cfg.InstanceID)
		}
		goroutines := s.cfg.Workers
		if s.autoWorkers {
			goroutines = MaxWorkers // the gate lets workerLimit of them work
		}
		for range goroutines {
			s.workers.Add(1)
			go s.worker()
		}
		if s.cfg.ScanInterval > 0 {
			s.background.Add(1)
			go s.scan()
		}
		if s.cfg.ApprovalSweep > 0 {
			s.background.Add(1)
			go s.expireLoop()
		}
		if s.intake != nil {
			s.intake.start()
		}
		if s.cfg.WebhookPoll >= 0 {
			if err = s.registerStaticWebhooks(ctx); err != nil {
				return
			}
			s.background.Add(1)
			go s.deliverLoop(s.webhookClient())
		}
		if s.cfg.Notifier != nil {
			lctx, stop := context.WithCancel(context.Background())
			go func() { <-s.done; stop() }()
			s.background.Add(1)
			go s.listen(lctx)
		}
	})
	if err != nil {
		return errors.Join(errors.New("server: loading unfinished runs"), err)
	}
	return nil
}

// Shutdown stops taking work, ends SSE streams, lets the turns in progress
// finish until ctx is done, and leaves every unfinished run queued or running
// in the store for the next Start. Runs still in a model call when ctx ends are
// interrupted; their completed messages are already checkpointed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.draining.Store(true)
		close(s.done)
		s.queue.close()
		s.gate.close()
		s.mu.Lock()
		for _, e := range s.active {
			e.drain.Stop(drainReason)
		}
		s.mu.Unlock()
		idle := make(chan struct{})
		go func() { s.workers.Wait(); close(idle) }()
		select {
		case <-idle:
		case <-ctx.Done():
			s.log.Warn("shutdown grace period over: interrupting runs mid-turn", "running", s.Running())
			s.hardStop()
			<-idle
		}
		s.hardStop()
		s.background.Wait()
		s.keys.wait()
		// Runs still queued here are left to the other instances at once.
		rctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		defer cancel()
		for _, id := range s.queue.drain() {
			s.releasePending(rctx, id)
		}
	})
	return nil
}

// QueueDepth is the number of runs waiting for a worker.
func (s *Server) QueueDepth() int { return s.queue.len() }

// Running is the number of runs executing now.
func (s *Server) Running() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.active)
}

// RunCounts are the service's run counters for telemetry: the current queue
// and workers, and the runs finished since Start.
type RunCounts struct {
	Queued, Running              int
	Succeeded, Failed, Cancelled int64
}

// Counts returns the current run counters.
func (s *Server) Counts() RunCounts {
	return RunCounts{
		Queued:    s.QueueDepth(),
		Running:   s.Running(),
		Succeeded: s.finished.succeeded.Load(),
		Failed:    s.finished.failed.Load(),
		Cancelled: s.finished.cancelled.Load(),
	}
}

// maxMessagesFor is the effective message cap of a run, for the page's
// stop-condition display.
func (s *Server) maxMessagesFor(r *store.Run) int {
	if r.MaxMessages > 0 {
		return r.MaxMessages
	}
	return s.cfg.Teams.MaxMessages(r.Team)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
