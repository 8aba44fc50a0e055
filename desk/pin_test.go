package desk_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/newsroom-dev/newsroom/desk"
	"github.com/newsroom-dev/newsroom/tool/mcp"
)

func TestPin_RecordsEachToolAndRefusesAServerThatChanged(t *testing.T) {
	t.Setenv(envServe, "1") // the archive server is this test binary
	src := archiveYAML(t, webServer(t))
	pinned, err := desk.Pin(context.Background(), "archive.yaml", []byte(src), mcp.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := desk.Parse("archive.yaml", pinned, desk.LoadOptions{})
	if err != nil {
		t.Fatalf("the pinned file does not load: %v\n%s", err, pinned)
	}
	var pins []desk.PinSpec
	for _, a := range s.Agents {
		for _, m := range a.MCP {
			pins = append(pins, m.Pins...)
		}
	}
	if len(pins) != 6 || pins[0].Tool != "echo" || len(pins[0].SHA256) != 64 {
		t.Fatalf("pins %+v, want the three tools of each of the two servers", pins)
	}
	if !strings.Contains(string(pinned), "max_messages: 4") || !strings.Contains(string(pinned), "You are Editor.") {
		t.Errorf("pinning lost the rest of the file:\n%s", pinned)
	}
	// The pins hold: the desk connects.
	m, err := desk.ConnectMCP(context.Background(), s, mcp.Options{}, nil)
	if err != nil {
		t.Fatalf("connect with pins: %v", err)
	}
	_ = m.Close()

	// A tool whose description changed since its pin is refused by name.
	changed := strings.Replace(string(pinned), pins[1].SHA256, strings.Repeat("0", 64), 1)
	s2, err := desk.Parse("archive.yaml", []byte(changed), desk.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = desk.ConnectMCP(context.Background(), s2, mcp.Options{}, nil)
	if !errors.Is(err, desk.ErrPinMismatch) || !strings.Contains(err.Error(), "tool "+pins[1].Tool) {
		t.Fatalf("a changed tool: %v, want a refusal naming tool %s", err, pins[1].Tool)
	}
	// A tool the pins do not know is refused too.
	s3, _ := desk.Parse("archive.yaml", pinned, desk.LoadOptions{})
	for i := range s3.Agents[0].MCP {
		if len(s3.Agents[0].MCP[i].Pins) > 0 {
			s3.Agents[0].MCP[i].Pins = s3.Agents[0].MCP[i].Pins[:2]
			break
		}
	}
	if _, err := desk.ConnectMCP(context.Background(), s3, mcp.Options{}, nil); !errors.Is(err, desk.ErrPinMismatch) || !strings.Contains(err.Error(), "not pinned") {
		t.Fatalf("an unpinned tool: %v", err)
	}
}
