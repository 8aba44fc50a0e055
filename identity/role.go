// Package identity says who is calling and what they may do: it validates
// OpenID Connect tokens from Microsoft Entra ID (or any OpenID provider) and
// turns them, like API keys, into a Principal with a Role.
//
// Roles are ordered, each including the ones before it: reader (see their
// runs), reporter (submit and cancel their own runs), editor-in-chief (also
// decide on any run and see all runs) and admin (also keys, everything).
package identity

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Role is what a caller may do. The zero Role may do nothing.
type Role int

// The roles, in order; each includes the ones before it.
const (
	RoleNone Role = iota
	RoleReader
	RoleReporter
	RoleEditorInChief
	RoleAdmin
)

var roleNames = []string{"none", "reader", "reporter", "editor-in-chief", "admin"}

// ErrUnknownRole is returned for a role name that is not one of the roles.
var ErrUnknownRole = errors.New("identity: unknown role (want reader, reporter, editor-in-chief or admin)")

// String is the role's name, as in flags, tokens and error messages.
func (r Role) String() string {
	if r < RoleNone || int(r) >= len(roleNames) {
		return fmt.Sprintf("role(%d)", int(r))
	}
	return roleNames[r]
}

// Allows reports whether r includes need.
func (r Role) Allows(need Role) bool { return r >= need }

// normalize lets an Entra app role value such as "EditorInChief" or
// "Editor.In.Chief" name the same role as "editor-in-chief".
func normalize(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(s)))
}

// ParseRole parses a role name (case and the separators - _ . are ignored).
func ParseRole(s string) (Role, error) {
	n := normalize(s)
	for i, name := range roleNames {
		if i > 0 && normalize(name) == n {
			return Role(i), nil
		}
	}
	return RoleNone, fmt.Errorf("%w: %q", ErrUnknownRole, s)
}

// MarshalText writes the role's name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses a role name.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// RoleMap maps group object ids (the token's groups claim) to roles.
type RoleMap map[string]Role

// ParseRoleMap parses "editor-in-chief=<group id>,reporter=<group id>,...";
// a role may be listed with several groups. The empty string is an empty map.
func ParseRoleMap(s string) (RoleMap, error) {
	m := RoleMap{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, group, ok := strings.Cut(part, "=")
		group = strings.TrimSpace(group)
		if !ok || group == "" {
			return nil, fmt.Errorf("identity: role map entry %q: want role=group-id", part)
		}
		r, err := ParseRole(name)
		if err != nil {
			return nil, err
		}
		if prev, dup := m[group]; dup && prev != r {
			return nil, fmt.Errorf("identity: role map: group %q mapped to both %s and %s", group, prev, r)
		}
		m[group] = r
	}
	return m, nil
}

// String writes the map back in ParseRoleMap's form, sorted.
func (m RoleMap) String() string {
	parts := make([]string, 0, len(m))
	for g, r := range m {
		parts = append(parts, r.String()+"="+g)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// roleFrom is the highest role named by the roles claim or mapped from the
// groups claim; unknown names and groups are ignored.
func roleFrom(roles, groups []string, m RoleMap) Role {
	best := RoleNone
	for _, name := range roles {
		if r, err := ParseRole(name); err == nil && r > best {
			best = r
		}
	}
	for _, g := range groups {
		if r, ok := m[g]; ok && r > best {
			best = r
		}
	}
	return best
}
