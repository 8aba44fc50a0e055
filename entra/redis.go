package entra

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/auth"
)

// tokenTimeout bounds one token request.
const tokenTimeout = 30 * time.Second

// RedisOptions parses a Redis URL (redis://, rediss://, unix://) into client
// options and, when mode resolves to Entra ID, signs every connection in
// with a token for RedisScope, renewed before it expires (RedisCredentials).
// Errors never include the URL.
func RedisOptions(url string, mode Mode, cred CredentialSource) (*redis.Options, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, errors.New("entra: the Redis URL is not a redis://, rediss:// or unix:// URL")
	}
	host := opt.Addr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	if !mode.wanted(host, opt.Password, redisHosts) {
		return opt, nil
	}
	c, err := cred.get()
	if err != nil {
		return nil, err
	}
	opt.StreamingCredentialsProvider = NewRedisCredentials(RedisConfig{Credential: c, User: opt.Username})
	opt.Username, opt.Password = "", ""
	return opt, nil
}

// RedisConfig configures RedisCredentials. Credential is required.
type RedisConfig struct {
	Credential azcore.TokenCredential
	// User is the Redis user name; empty means the token's oid claim (the
	// identity's object id, as Azure Cache for Redis expects).
	User string
	// OnError is told when renewing the token fails (it is retried until
	// the current one expires); nil ignores it. The error holds no token.
	OnError func(error)
}

// RedisCredentials is a go-redis auth.StreamingCredentialsProvider of Entra
// ID tokens: each new connection signs in with a current token, and while
// connections are open a goroutine fetches the next token before the
// current one expires and hands it to every connection (go-redis sends
// AUTH). The goroutine runs only while someone is subscribed.
type RedisCredentials struct {
	cfg RedisConfig

	mu        sync.Mutex
	current   token
	listeners map[auth.CredentialsListener]struct{}
	stop      chan struct{} // non-nil while the renewing goroutine runs
	wg        sync.WaitGroup
}

var _ auth.StreamingCredentialsProvider = (*RedisCredentials)(nil)

// NewRedisCredentials returns the provider.
func NewRedisCredentials(cfg RedisConfig) *RedisCredentials {
	return &RedisCredentials{cfg: cfg, listeners: map[auth.CredentialsListener]struct{}{}}
}

// token is one signed-in identity; it implements auth.Credentials and
// prints without its secret.
type token struct {
	user, secret string
	expires      time.Time
}

func (t token) BasicAuth() (string, string) { return t.user, t.secret }
func (t token) RawCredentials() string      { return t.user + ":" + t.secret }
func (t token) String() string              { return "Entra ID token of " + t.user }
func (t token) GoString() string            { return t.String() }

// Subscribe returns a current token for a new connection and sends l the
// next ones; subscribing l again changes nothing.
func (r *RedisCredentials) Subscribe(l auth.CredentialsListener) (auth.Credentials, auth.UnsubscribeFunc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
	defer cancel()
	t, err := r.fetch(ctx)
	if err != nil {
		return nil, nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.expires.After(r.current.expires) {
		r.current = t
	}
	r.listeners[l] = struct{}{}
	if r.stop == nil {
		r.stop = make(chan struct{})
		stop := r.stop
		r.wg.Go(func() { r.renew(stop) })
	}
	return t, func() error { r.unsubscribe(l); return nil }, nil
}

// Close stops renewing and waits for the goroutine; connections still open
// keep their token until it expires.
func (r *RedisCredentials) Close() {
	r.mu.Lock()
	clear(r.listeners)
	if r.stop != nil {
		close(r.stop)
		r.stop = nil
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *RedisCredentials) unsubscribe(l auth.CredentialsListener) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.listeners, l)
	if len(r.listeners) == 0 && r.stop != nil {
		close(r.stop)
		r.stop = nil
	}
}

// renew fetches the next token when three quarters of the current one's
// remaining life have passed (azidentity hands back its cached token until
// it is close to expiring, so the wait shrinks until a new one comes) and
// tells every listener.
func (r *RedisCredentials) renew(stop <-chan struct{}) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		r.mu.Lock()
		cur := r.current
		r.mu.Unlock()
		timer.Reset(renewWait(time.Until(cur.expires)))
		select {
		case <-stop:
			return
		case <-timer.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
		t, err := r.fetch(ctx)
		cancel()
		if err != nil {
			if r.cfg.OnError != nil {
				r.cfg.OnError(err)
			}
			continue
		}
		if t.secret == cur.secret {
			continue
		}
		r.mu.Lock()
		r.current = t
		ls := make([]auth.CredentialsListener, 0, len(r.listeners))
		for l := range r.listeners {
			ls = append(ls, l)
		}
		r.mu.Unlock()
		for _, l := range ls {
			l.OnNext(t)
		}
	}
}

// renewWait is how long to wait before asking for a new token when the
// current one expires in left: three quarters of it, at least a second.
func renewWait(left time.Duration) time.Duration {
	return max(left*3/4, time.Second)
}

func (r *RedisCredentials) fetch(ctx context.Context) (token, error) {
	at, err := r.cfg.Credential.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{RedisScope}})
	if err != nil {
		return token{}, fmt.Errorf("entra: Redis sign-in token: %w", err)
	}
	user := r.cfg.User
	if user == "" {
		if user, err = ObjectID(at.Token); err != nil {
			return token{}, err
		}
	}
	return token{user: user, secret: at.Token, expires: at.ExpiresOn}, nil
}

// ObjectID reads the oid claim of a JWT access token (not verifying it:
// the server does). The error never holds the token.
func ObjectID(jwt string) (string, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", errors.New("entra: the token is not a JWT: set the Redis user name in the URL (rediss://OBJECT_ID@host:6380)")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", errors.New("entra: the token's claims are not base64url")
	}
	var claims struct {
		OID string `json:"oid"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.OID == "" {
		return "", errors.New("entra: the token has no oid claim: set the Redis user name in the URL (rediss://OBJECT_ID@host:6380)")
	}
	return claims.OID, nil
}
