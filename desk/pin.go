package desk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/newsroom-dev/newsroom/tool"
	"github.com/newsroom-dev/newsroom/tool/mcp"
)

// Pinning. An MCP server's tool descriptions are text its author wrote and
// can change at any time; a desk that pins them (newsroom teams pin)
// records a hash of each tool and refuses a server whose tools differ.

// ErrPinMismatch is wrapped when a server's tools differ from their pins.
var ErrPinMismatch = errors.New("desk: MCP tools differ from their pins")

// Pins returns the pins of a server's tools (named <server>_<tool>), by tool name.
func Pins(server string, tools []tool.Tool) []PinSpec {
	var out []PinSpec
	for _, t := range tools {
		d := t.Definition()
		name := strings.TrimPrefix(d.Name, server+"_")
		var params bytes.Buffer
		if len(d.Parameters) > 0 {
			_ = json.Compact(&params, d.Parameters)
		}
		sum := sha256.Sum256([]byte(name + "\x00" + d.Description + "\x00" + params.String()))
		out = append(out, PinSpec{Tool: name, SHA256: hex.EncodeToString(sum[:])})
	}
	slices.SortFunc(out, func(a, b PinSpec) int { return strings.Compare(a.Tool, b.Tool) })
	return out
}

// checkPins compares a server's tools with the pins of its file entry
// (none: nothing to check) and names the first tool that differs.
func checkPins(server string, pins []PinSpec, tools []tool.Tool) error {
	if len(pins) == 0 {
		return nil
	}
	have := Pins(server, tools)
	for _, p := range pins {
		i := slices.IndexFunc(have, func(h PinSpec) bool { return h.Tool == p.Tool })
		switch {
		case i < 0:
			return fmt.Errorf("%w: server %s no longer has tool %s", ErrPinMismatch, server, p.Tool)
		case have[i].SHA256 != p.SHA256:
			return fmt.Errorf("%w: server %s changed tool %s (its description or parameters) since it was pinned; check it and pin again", ErrPinMismatch, server, p.Tool)
		}
	}
	for _, h := range have {
		if !slices.ContainsFunc(pins, func(p PinSpec) bool { return p.Tool == h.Tool }) {
			return fmt.Errorf("%w: server %s has a tool %s that was not pinned", ErrPinMismatch, server, h.Tool)
		}
	}
	return nil
}

// pinsOf returns the pins the file gives the server named name.
func (s *Spec) pinsOf(name string) []PinSpec { return s.mcpEntry(name).Pins }

// mcpEntry returns the entry that defines the server named name (the zero
// entry when none does).
func (s *Spec) mcpEntry(name string) MCPSpec {
	for _, a := range s.Agents {
		for _, m := range a.MCP {
			if m.Name == name && (m.Command != "" || m.URL != "") {
				return m
			}
		}
	}
	return MCPSpec{}
}

// Pin connects to the MCP servers of the team file data (named file) and
// returns the file with the pins of each server's current tools written
// into the entry that defines it; comments and the rest stay as they are.
func Pin(ctx context.Context, file string, data []byte, opts mcp.Options, log *slog.Logger) ([]byte, error) {
	s, err := Parse(file, data, LoadOptions{})
	if err != nil {
		return nil, err
	}
	for i := range s.Agents { // pins as they are would refuse a changed server
		for j := range s.Agents[i].MCP {
			s.Agents[i].MCP[j].Pins = nil
		}
	}
	m, err := ConnectMCP(ctx, s, opts, log)
	if err != nil {
		return nil, err
	}
	defer func() { _ = m.Close() }()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("desk: %s: %w", file, err)
	}
	for _, srv := range m.servers {
		entry := definingEntry(&doc, srv.Name())
		if entry == nil {
			return nil, fmt.Errorf("desk: %s: no entry defines MCP server %s", file, srv.Name())
		}
		var pins yaml.Node
		if err := pins.Encode(Pins(srv.Name(), srv.Tools())); err != nil {
			return nil, err
		}
		setKey(entry, "pins", &pins)
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// definingEntry finds the mapping of agents[*].mcp[*] that defines server name.
func definingEntry(doc *yaml.Node, name string) *yaml.Node {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	agents := valueOf(root, "agents")
	if agents == nil {
		return nil
	}
	for _, a := range agents.Content {
		list := valueOf(a, "mcp")
		if list == nil {
			continue
		}
		for _, e := range list.Content {
			n := valueOf(e, "name")
			if n != nil && n.Value == name && (valueOf(e, "command") != nil || valueOf(e, "url") != nil) {
				return e
			}
		}
	}
	return nil
}

func valueOf(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setKey(m *yaml.Node, key string, v *yaml.Node) {
	m.Style = 0 // a flow mapping ({name: x, url: y}) becomes a block one to hold the list
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}
