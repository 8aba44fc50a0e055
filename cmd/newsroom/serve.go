package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/newsroom-dev/newsroom/alerts"
	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/entra"
	"github.com/newsroom-dev/newsroom/identity"
	"github.com/newsroom-dev/newsroom/model/preflight"
	"github.com/newsroom-dev/newsroom/model/provider"
	"github.com/newsroom-dev/newsroom/server"
	"github.com/newsroom-dev/newsroom/server/redislimit"
	"github.com/newsroom-dev/newsroom/store"
	"github.com/newsroom-dev/newsroom/store/postgres"
	"github.com/newsroom-dev/newsroom/team"
	"github.com/newsroom-dev/newsroom/telemetry"
	"github.com/newsroom-dev/newsroom/tool/web"
)

// serveOptions are the flags of `newsroom serve`.
type serveOptions struct {
	addr    string
	workers int
	queue   int
	grace   time.Duration
	rate    int
	cors    []string
	metrics bool
	// metricsKey may read /metrics besides admin keys; metricsPublic
	// serves it to anyone.
	metricsKey    string
	metricsPublic bool
	// authRate and authBurst limit requests without a valid key per client
	// address; clientIPHeader names the load balancer's client-address header.
	authRate       float64
	authBurst      int
	clientIPHeader string
	drainDelay     time.Duration
	runTimeout     time.Duration
	teamsDir       string
	intakeFile     string
	store          *storeFlags
	model          *modelFlags
	tools          *toolFlags

	// the approval gate
	requireApproval bool
	publish         string
	publicArticles  bool
	disclosure      string
	webhooks        []string
	approvalTimeout time.Duration

	// sign-in with OpenID Connect (Microsoft Entra ID)
	oidcIssuer, oidcClientID, oidcRedirect, roleMap string
	oidcScopes                                      string
	oidcGraphGroups                                 bool
	graphEndpoint                                   string

	// onServing, when set, runs once the service answers (newsroom mcp's
	// stdio server); the service stops when it returns.
	onServing func(ctx context.Context, srv *server.Server, st store.Store) error
}

func newServeCmd() *cobra.Command { return serveCmd(&serveOptions{}) }

// serveCmd is `newsroom serve` with its flags read into o (newsroom mcp
// takes the same flags).
func serveCmd(o *serveOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Serve the web page and the HTTP API",
		Long: `Serve the web page and the HTTP API (POST /v1/runs, its event stream, /metrics).

Runs are kept in the run store and resume after a restart. On SIGTERM or
Ctrl-C the service stops taking work, lets the turns in progress finish
within --grace and exits 0.`,
		Example: `  newsroom keys create --name alice
  newsroom serve --addr 127.0.0.1:8080 --workers 4
  NEWSROOM_DATABASE_URL=postgres://... newsroom serve`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serveAPI(cmd, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.StringVar(&o.teamsDir, "teams-dir", "", "also offer the desks (*.yaml team files) of this directory")
	fs.StringVar(&o.intakeFile, "intake", os.Getenv(intakeFileEnv), "an intake file: feeds, queues and webhooks whose items start runs (env "+intakeFileEnv+"; see newsroom intake)")
	fs.IntVar(&o.workers, "workers", 0, "runs executed at once; 0 (auto): enough to keep the deployment's RPM/TPM quota busy (4..64)")
	fs.IntVar(&o.queue, "queue", 64, "runs that may wait; beyond it POST /v1/runs answers 429")
	fs.DurationVar(&o.runTimeout, "run-timeout", 15*time.Minute, "the most time a run may work, over all its legs (waiting for a decision or for a restart does not count)")
	fs.DurationVar(&o.grace, "grace", 20*time.Second, "on SIGTERM, how long turns in progress may take to finish")
	fs.IntVar(&o.rate, "rate-limit", 120, "requests per minute per API key (negative: no limit)")
	fs.StringArrayVar(&o.cors, "cors-origin", nil, "an origin allowed to call the API from another site (repeatable; default none)")
	fs.BoolVar(&o.metrics, "metrics", true, "serve Prometheus metrics at /metrics (to admin keys and --metrics-key)")
	fs.StringVar(&o.metricsKey, "metrics-key", "", "a bearer secret a scraper may read /metrics with (prefer env NEWSROOM_METRICS_KEY: a flag shows in ps)")
	fs.BoolVar(&o.metricsPublic, "metrics-public", false, "serve /metrics without authentication")
	fs.Float64Var(&o.authRate, "auth-failure-rate", 20, "requests a second one client address may make without a valid API key (negative: no limit)")
	fs.IntVar(&o.authBurst, "auth-failure-burst", 40, "burst of --auth-failure-rate")
	fs.StringVar(&o.clientIPHeader, "client-ip-header", os.Getenv("NEWSROOM_CLIENT_IP_HEADER"),
		"header the load balancer puts the client address in, last entry used (App Service: X-Forwarded-For; env NEWSROOM_CLIENT_IP_HEADER)")
	fs.DurationVar(&o.drainDelay, "drain-delay", 5*time.Second,
		"on SIGTERM, the least time the listener keeps answering (503 shutting_down for new work, /readyz 503) so the load balancer moves clients away; "+
			"it stays open longer while runs are handed over, never beyond --grace")
	fs.BoolVar(&o.requireApproval, "require-approval", os.Getenv("NEWSROOM_REQUIRE_APPROVAL") == "true",
		`runs wait for an editor-in-chief's decision when the team is done, unless a run asks for "approval": "none" (env NEWSROOM_REQUIRE_APPROVAL=true)`)
	fs.StringVar(&o.publish, "publish", "",
		"which runs publish an article: all (approved runs, and runs without approval that succeed) or approved-only; default approved-only with --require-approval, all otherwise")
	fs.StringArrayVar(&o.webhooks, "webhook", nil, "a URL that gets every article event (published, corrected, retracted), signed with NEWSROOM_WEBHOOK_SECRET (repeatable)")
	fs.BoolVar(&o.publicArticles, "public-articles", false, "serve /articles/{slug} and the feeds to anyone; otherwise they need a key with the reader role")
	fs.StringVar(&o.disclosure, "disclosure", "", "the reader-facing line on article pages and feeds that says how articles are made (default: a line saying AI models wrote it and a named editor approved it)")
	fs.DurationVar(&o.approvalTimeout, "approval-timeout", server.DefaultApprovalTimeout, "a run nobody decides on within this long ends as expired")
	fs.StringVar(&o.oidcIssuer, "oidc-issuer", os.Getenv("NEWSROOM_OIDC_ISSUER"),
		"OpenID Connect issuer for sign-in, e.g. https://login.microsoftonline.com/TENANT/v2.0 (env NEWSROOM_OIDC_ISSUER)")
	fs.StringVar(&o.oidcClientID, "oidc-client-id", os.Getenv("NEWSROOM_OIDC_CLIENT_ID"),
		"application (client) id the tokens are for (env NEWSROOM_OIDC_CLIENT_ID); the client secret, when needed, comes from NEWSROOM_OIDC_CLIENT_SECRET")
	fs.StringVar(&o.oidcRedirect, "oidc-redirect-url", os.Getenv("NEWSROOM_OIDC_REDIRECT_URL"),
		"https://HOST/auth/callback as registered with the identity provider (default: from each request's host)")
	fs.StringVar(&o.oidcScopes, "oidc-scopes", os.Getenv("NEWSROOM_OIDC_SCOPES"),
		"scopes sign-in asks for, separated by spaces or commas, for a provider that releases roles or groups under a scope of its own "+
			"(default \"openid profile email\"; openid is always asked for; env NEWSROOM_OIDC_SCOPES)")
	fs.StringVar(&o.roleMap, "role-map", os.Getenv("NEWSROOM_ROLE_MAP"),
		"roles from groups: editor-in-chief=GROUP_ID,reporter=GROUP_ID,... (env NEWSROOM_ROLE_MAP); app roles in the roles claim always count")
	fs.BoolVar(&o.oidcGraphGroups, "oidc-graph-groups", os.Getenv("NEWSROOM_OIDC_GRAPH_GROUPS") == "true",
		"when a token leaves out a person's groups (too many), ask Microsoft Graph which --role-map groups they are in, with the service's own identity "+
			"(DefaultAzureCredential; needs the User.Read.All and GroupMember.Read.All application permissions; env NEWSROOM_OIDC_GRAPH_GROUPS=true)")
	fs.StringVar(&o.graphEndpoint, "graph-endpoint", cmp.Or(os.Getenv("NEWSROOM_GRAPH_ENDPOINT"), identity.DefaultGraphEndpoint),
		"Microsoft Graph for --oidc-graph-groups (another cloud's Graph, e.g. https://graph.microsoft.us; env NEWSROOM_GRAPH_ENDPOINT)")
	o.store = addStoreFlags(fs, false)
	o.model = addModelFlags(fs)
	o.tools = addToolFlags(fs, false)
	return cmd
}

// serveAPI runs the web service until ctx ends (SIGTERM or Ctrl-C), then
// stops taking work, lets the turns in progress finish within --grace, and
// returns nil: unfinished runs stay in the store and resume at the next start.
func serveAPI(cmd *cobra.Command, o *serveOptions) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	switch {
	case o.workers < 0:
		return usageErrorf("--workers must not be negative (0 means auto)")
	case o.queue < 1:
		return usageErrorf("--queue must be at least 1")
	case o.runTimeout <= 0:
		return usageErrorf("--run-timeout must be positive")
	case o.grace < 0:
		return usageErrorf("--grace must not be negative")
	case o.approvalTimeout <= 0:
		return usageErrorf("--approval-timeout must be positive")
	case o.drainDelay < 0:
		return usageErrorf("--drain-delay must not be negative")
	case o.authBurst < 1:
		return usageErrorf("--auth-failure-burst must be at least 1")
	case (o.oidcIssuer == "") != (o.oidcClientID == ""):
		return usageErrorf("--oidc-issuer and --oidc-client-id go together")
	case o.publish != "" && o.publish != server.PublishAll && o.publish != server.PublishApprovedOnly:
		return usageErrorf("--publish must be all or approved-only, not %q", o.publish)
	case len(o.webhooks) > 0 && os.Getenv("NEWSROOM_WEBHOOK_SECRET") == "":
		return usageErrorf("--webhook needs NEWSROOM_WEBHOOK_SECRET, the secret its deliveries are signed with")
	}
	roleMap, err := identity.ParseRoleMap(o.roleMap)
	if err != nil {
		return usageErrorf("--role-map: %v", err)
	}
	if o.oidcGraphGroups && (o.oidcIssuer == "" || len(roleMap) == 0) {
		return usageErrorf("--oidc-graph-groups needs --oidc-issuer and a --role-map to look groups up for")
	}
	if o.metricsKey == "" {
		o.metricsKey = os.Getenv("NEWSROOM_METRICS_KEY")
	}

	// Team files are checked before anything starts: a mistake is exit 2.
	desks, err := loadRegistry(o.teamsDir)
	if err != nil {
		return err
	}
	intakes, err := loadIntake(o.intakeFile, desks.Names())
	if err != nil {
		return err
	}
	// The configuration once, for the store and the model; the store first:
	// on PostgreSQL the daily budget is kept in it.
	if err := o.store.conflict(); err != nil {
		return err
	}
	cfg, err := loadConfig(ctx, o.model)
	if err != nil {
		return err
	}
	st, storeDesc, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	pg, _ := st.(*postgres.Store)
	// The calls' observed sizes and durations size the runs in progress
	// (--workers 0).
	calls := &server.CallStats{}
	sopts := stackOptions{Config: cfg, LogFormat: "json", LogLevel: slog.LevelInfo, Prometheus: o.metrics, Bottom: calls.Middleware()}
	if pg != nil {
		sopts.Spend = pg.Spend()
	}
	stack, err := buildModel(ctx, o.model, stderr, sopts)
	if err != nil {
		return err
	}
	defer stack.Close()
	if known := knownDeployments(stack); known != nil && o.teamsDir != "" {
		if err := desk.NewRegistry().LoadDir(o.teamsDir, desk.LoadOptions{Deployments: known}); err != nil {
			return teamFileError(err)
		}
	}
	log := stack.Logger

	var oidcCfg *server.OIDCConfig
	if o.oidcIssuer != "" {
		icfg := identity.Config{Issuer: o.oidcIssuer, ClientID: o.oidcClientID, RoleMap: roleMap}
		if o.oidcGraphGroups {
			cred, err := provider.DefaultCredential(nil)
			if err != nil {
				return fmt.Errorf("%w: --oidc-graph-groups: %w", errConfig, err)
			}
			if icfg.Groups, err = identity.NewGraphGroups(identity.GraphConfig{Endpoint: o.graphEndpoint, Credential: cred}); err != nil {
				return usageErrorf("--graph-endpoint: %v", err)
			}
		}
		v, err := identity.New(ctx, icfg)
		if err != nil {
			return fmt.Errorf("%w: sign-in: %w", errConfig, err)
		}
		oidcCfg = &server.OIDCConfig{Verifier: v, ClientSecret: os.Getenv("NEWSROOM_OIDC_CLIENT_SECRET"), RedirectURL: o.oidcRedirect,
			Scopes: strings.FieldsFunc(o.oidcScopes, func(r rune) bool { return r == ',' || r == ' ' })}
		log.Info("sign-in with OpenID Connect", "issuer", o.oidcIssuer, "client_id", o.oidcClientID)
	}
	keyLimiter, closeLimiter, err := sharedKeyLimiter(stack.Config.RedisURL.Value(), stack.Config.RedisAuth, pg, o.rate)
	if err != nil {
		return err
	}
	defer closeLimiter()
	notifier, closeNotifier, err := runNotifier(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeNotifier()

	// --workers 0: the server sizes the runs in progress from the quota and
	// the calls observed (calls); it starts from the assumed call.
	quota := server.Quota{RPM: stack.Config.RPM, TPM: stack.Config.TPM}
	workers, workersFrom := o.workers, "set by --workers"
	if o.workers == 0 {
		workers = server.SizeWorkers(quota)
		workersFrom = fmt.Sprintf("auto from rpm %d, tpm %d, then the calls' observed sizes and durations", quota.RPM, quota.TPM)
	}

	tools, err := o.tools.build(ctx, log, stack.Config.FetchAllow)
	if err != nil {
		return err
	}
	defer tools.Close()
	if w := o.tools.provenanceOff(deskSpecs(desks)...); w != "" {
		log.Warn(w)
	}
	if err := tools.connectDesks(ctx, o.tools, deskSpecs(desks)...); err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		Store:        st,
		Teams:        deskTeams{stack: stack, desks: desks, timeout: o.runTimeout, withTools: func(c desk.Config) desk.Config { return tools.deskConfig(c, o.tools) }},
		TeamInfo:     teamInfos(desks),
		Workers:      o.workers,
		Quota:        quota,
		Calls:        calls,
		Preflight:    func(task string) error { return preflight.CheckTask(task, stack.Limits) },
		FetchSources: tools.Fetcher.Sources,
		QueueSize:    o.queue,
		CORSOrigins:  o.cors,
		KeyRateLimit: o.rate,
		KeyLimiter:   keyLimiter,
		Logger:       log,
		Emulator:     stack.Info.Emulated,
		InstanceID:   instanceID(),
		Notifier:     notifier,
		Instrument: func(ctx context.Context, runID, kind string) (context.Context, []team.RunOption, func(server.Events) server.Events) {
			return telemetry.Instrument(ctx, stack.Tel, telemetry.RunInfo{RunID: runID, Team: kind, Logger: log, NoFinishLine: true})
		},
		RequireApproval:  o.requireApproval,
		Publish:          o.publish,
		PublicArticles:   o.publicArticles,
		Disclosure:       o.disclosure,
		Webhooks:         o.webhooks,
		WebhookSecret:    os.Getenv("NEWSROOM_WEBHOOK_SECRET"),
		WebhookAllow:     web.ParseAllow(stack.Config.FetchAllow),
		ApprovalTimeout:  o.approvalTimeout,
		ModelReady:       stack.Ready,
		Metrics:          metricsHandler(o.metrics, stack.Tel),
		MetricsKey:       o.metricsKey,
		MetricsPublic:    o.metricsPublic,
		AuthFailureRate:  o.authRate,
		AuthFailureBurst: o.authBurst,
		ClientIPHeader:   o.clientIPHeader,
		OIDC:             oidcCfg,
		Intake:           intakeConfig(intakes, tools, stack),
	})
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	if stop, err := stack.Tel.ObserveQueueDepth(func() int64 { return int64(srv.QueueDepth()) }); err == nil {
		defer stop()
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("%w: listen on %s: %w", errConfig, o.addr, err)
	}
	hs := srv.HTTPServer(o.addr)
	hs.Handler = telemetry.HTTPHandler(stack.Tel, countAuthFailures(withProtocols(hs.Handler, o, teamInfos(desks)), stack.Alerts))
	if err := srv.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	served := make(chan error, 1)
	// srv.Listener: even net/http's own answers to malformed requests are JSON.
	go func() { served <- hs.Serve(srv.Listener(ln)) }()

	url := "http://" + ln.Addr().String()
	if stack.Info.Emulated {
		fmt.Fprint(stderr, emulatorNotice)
	}
	fmt.Fprintf(stdout, "newsroom: serving on %s (store: %s, model: %s, %d workers, %s)\n", url, storeDesc, stack.Info.Model, workers, workersFrom)
	fmt.Fprintln(stdout, "newsroom: create an API key with: newsroom keys create --name YOUR_NAME")
	log.Info("serving", "url", url, "store", storeDesc, "model", stack.Info.Model, "workers", workers, "workers_from", workersFrom, "queue", o.queue)

	hookDone, hookErr := make(chan error, 1), error(nil)
	if o.onServing != nil {
		go func() { hookDone <- o.onServing(ctx, srv, st) }()
	}
	select {
	case <-ctx.Done():
	case hookErr = <-hookDone:
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			sctx, cancel := context.WithTimeout(context.Background(), o.grace)
			defer cancel()
			_ = srv.Shutdown(sctx)
			return fmt.Errorf("serve: %w", err)
		}
	}
	log.Info("shutting down", "grace", o.grace.String(), "running", srv.Running(), "queued", srv.QueueDepth())
	sctx, cancel := context.WithTimeout(context.Background(), o.grace)
	defer cancel()
	// Stop the runs first: it ends the event streams, so the HTTP server's
	// own shutdown is not held open by them. The listener stays open while
	// runs are handed over and for at least the drain delay: new work is
	// answered 503 shutting_down with Retry-After and /readyz 503, so the
	// load balancer moves clients to other instances instead of them
	// meeting refused connections.
	runsDone := make(chan struct{})
	go func() { _ = srv.Shutdown(sctx); close(runsDone) }()
	drain := time.NewTimer(min(o.drainDelay, o.grace))
	defer drain.Stop()
	for waiting := 2; waiting > 0; waiting-- {
		select {
		case <-runsDone:
			runsDone = nil
		case <-drain.C:
		case <-sctx.Done():
			waiting = 0
		}
	}
	if err := hs.Shutdown(sctx); err != nil {
		_ = hs.Close()
	}
	if runsDone != nil {
		<-runsDone
	}
	fmt.Fprintln(stdout, "newsroom: stopped; unfinished runs resume at the next start")
	return hookErr
}

// sharedKeyLimiter is the per-key rate limit every instance shares: through
// Redis when NEWSROOM_REDIS_URL is set, else through the database when the
// store is PostgreSQL (pg non-nil); nil otherwise (per instance).
func sharedKeyLimiter(redisURL string, auth entra.Mode, pg *postgres.Store, perMinute int) (server.KeyLimiter, func(), error) {
	if perMinute <= 0 {
		return nil, func() {}, nil
	}
	if redisURL == "" {
		if pg == nil {
			return nil, func() {}, nil
		}
		kl, err := pg.KeyLimiter(perMinute)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %w", errConfig, err)
		}
		return kl, func() {}, nil
	}
	opt, err := entra.RedisOptions(redisURL, auth, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: NEWSROOM_REDIS_URL: %w", errConfig, err)
	}
	rdb := redis.NewClient(opt)
	kl, err := redislimit.New(redislimit.Config{Client: rdb, PerMinute: perMinute})
	if err != nil {
		rdb.Close()
		return nil, nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	return kl, func() { _ = rdb.Close() }, nil
}

// metricsHandler is the Prometheus exposition, or nil when --metrics=false.
func metricsHandler(on bool, tel *telemetry.Provider) http.Handler {
	if !on {
		return nil
	}
	return tel.MetricsHandler()
}

// teamInfos describes the desks for GET /v1/teams and the web page.
func teamInfos(r *desk.Registry) []server.TeamInfo {
	var out []server.TeamInfo
	for _, d := range r.List() {
		ti := server.TeamInfo{Name: d.Spec.Name, Kind: d.Spec.Kind, Description: d.Spec.Description, MaxMessages: d.Spec.MaxMessages()}
		for _, a := range d.Spec.Agents {
			ti.Agents = append(ti.Agents, a.Name)
		}
		out = append(out, ti)
	}
	return out
}

// countAuthFailures tells the alert monitor about every request refused for
// bad credentials, so a burst of them raises the auth_failures alert. A 401
// to a request that presented none (a visitor's page asking GET /v1/me) is
// not a failure.
func countAuthFailures(next http.Handler, mon *alerts.Monitor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == http.StatusUnauthorized && server.PresentedCredentials(r) {
			mon.ObserveAuthFailure(alerts.AuthAPIKey)
		}
	})
}

// statusWriter records the status of a response. It forwards Flush and
// deadlines through Unwrap, so SSE streams keep working.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instanceID names this process in run claims and logs: App Service's
// instance id when there is one, else the host name, with a random suffix
// so a restarted process is a new owner.
func instanceID() string {
	base := os.Getenv("WEBSITE_INSTANCE_ID")
	if base == "" {
		base, _ = os.Hostname()
	}
	if len(base) > 24 {
		base = base[:24]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return base + "-" + hex.EncodeToString(b[:])
}
