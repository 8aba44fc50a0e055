package pool_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/model/pool"
)

func TestParse_API(t *testing.T) {
	t.Parallel()
	const head = "deployments:\n  - name: a\n    endpoint: https://a.openai.azure.com\n    deployment: gpt-5-mini\n"
	f, err := pool.Parse("pool.yaml", []byte(head+"    api: responses\n  - name: b\n    endpoint: https://b.openai.azure.com\n    deployment: gpt-4o\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if f.Deployments[0].API != pool.APIResponses || f.Deployments[1].API != pool.APIChat {
		t.Errorf("APIs %q, %q", f.Deployments[0].API, f.Deployments[1].API)
	}
	_, err = pool.Parse("pool.yaml", []byte(head+"    api: assistants\n"), env(nil))
	var fe *pool.FileError
	if !errors.As(err, &fe) || fe.Line != 5 || fe.Field != "deployments[0].api" || !strings.Contains(fe.Msg, "responses") {
		t.Errorf("error = %v", err)
	}
}
