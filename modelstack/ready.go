package modelstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/newsroom-dev/newsroom/model"
)

// ErrCredential is returned by Ready when the model's credential does not
// work: no token can be fetched, or the service refused the latest call's
// key (401 or 403).
var ErrCredential = errors.New("modelstack: the model credential does not work")

// tokenScope is the scope of Azure OpenAI tokens.
const tokenScope = "https://cognitiveservices.azure.com/.default"

// Ready reports whether the model can be called: with an Entra ID
// credential, a token can be fetched now (the credential caches it); with
// an API key, the latest call was not refused for its key. The emulator is
// always ready.
func (s *Stack) Ready(ctx context.Context) error {
	if s.credential != nil {
		if _, err := s.credential.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{tokenScope}}); err != nil {
			return fmt.Errorf("%w: fetching a token: %w", ErrCredential, err)
		}
		return nil
	}
	if status := s.last.refused(); status != 0 {
		return fmt.Errorf("%w: the latest call was refused with HTTP %d", ErrCredential, status)
	}
	return nil
}

// outcome remembers whether the latest answered call was refused for its
// credential.
type outcome struct {
	mu     sync.Mutex
	status int // 401 or 403 when the latest answered call was refused; 0 otherwise
}

func (o *outcome) set(status int) {
	o.mu.Lock()
	o.status = status
	o.mu.Unlock()
}

func (o *outcome) refused() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.status
}

// recordOutcome sits on the provider and records each answered call.
type recordOutcome struct {
	next model.Client
	last *outcome
}

func (c *recordOutcome) Complete(ctx context.Context, req *model.Request) (*model.Response, error) {
	resp, err := c.next.Complete(ctx, req)
	var me *model.Error
	switch {
	case err == nil:
		c.last.set(0)
	case errors.As(err, &me) && (me.StatusCode == http.StatusUnauthorized || me.StatusCode == http.StatusForbidden):
		c.last.set(me.StatusCode)
	case errors.As(err, &me) && me.StatusCode != 0:
		c.last.set(0) // answered: the key was accepted
	}
	return resp, err
}
