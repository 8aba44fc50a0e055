// Command codestats prints the shape numbers of the module's code that the
// project keeps within its floors: the longest functions, how many are over
// 80 lines, the largest cyclomatic complexity (counted as gocyclo counts it:
// 1 + each if, for, case, && and ||, closures included in their function)
// overall and in team/ and server/, the methods on server.Server, the fields
// of server.Config, and the imports that run back up a floor.
//
// Run it from the repository root: go run ./scripts/codestats
// Test files and generated files are not counted.
package main

import (
	"cmp"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const module = "github.com/newsroom-dev/newsroom/"

// floors orders the packages from the ground up: a package may import
// packages on its own floor or below. The longest prefix decides.
var floors = map[string]int{
	// 0: leaves, about nothing of newsroom's own.
	"httpx": 0, "tokenizer": 0, "redact": 0, "internal": 0, "entra": 0, "identity": 0, "keyvault": 0,
	// 1: the domain types.
	"model": 1, "tool": 1,
	// 2: what works on one model call, one tool, one agent.
	"model/": 2, "tool/": 2, "agent": 2, "termination": 2, "alerts": 2, "grounding": 2,
	// 3: runs of a team and what watches them.
	"team": 3, "telemetry": 3, "console": 3, "config": 3,
	// 4: composition: stores, desks, model stacks, the emulator.
	"store": 4, "desk": 4, "modelstack": 4, "emulator": 4, "internal/emutest": 4,
	// 5: the service and the benchmarks.
	"server": 5, "bench": 5,
	// 6: the command.
	"cmd": 6,
}

func floor(pkg string) int {
	best, f := -1, 0
	for key, n := range floors {
		var match bool
		if strings.HasSuffix(key, "/") {
			match = strings.HasPrefix(pkg, key)
		} else {
			match = pkg == key || strings.HasPrefix(pkg, key+"/")
		}
		if match && len(key) > best {
			best, f = len(key), n
		}
	}
	return f
}

type fn struct {
	name  string
	pos   string
	lines int
	cyclo int
}

type stats struct {
	fns           []fn
	serverMethods int
	configFields  int
	imports       map[string]map[string]bool // package -> imported newsroom packages
}

func main() {
	st := stats{imports: map[string]map[string]bool{}}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != "." && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		if ast.IsGenerated(f) {
			return nil
		}
		st.file(fset, filepath.ToSlash(path), f)
		return nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "codestats:", err)
		os.Exit(1)
	}
	st.print()
}

func (st *stats) file(fset *token.FileSet, path string, f *ast.File) {
	pkg := filepath.ToSlash(filepath.Dir(path))
	if st.imports[pkg] == nil {
		st.imports[pkg] = map[string]bool{}
	}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if rest, ok := strings.CutPrefix(p, module); ok {
			st.imports[pkg][rest] = true
		}
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Body == nil {
				continue
			}
			name := d.Name.Name
			if d.Recv != nil && len(d.Recv.List) > 0 {
				recv := recvName(d.Recv.List[0].Type)
				name = recv + "." + name
				if pkg == "server" && recv == "Server" {
					st.serverMethods++
				}
			}
			start, end := fset.Position(d.Pos()), fset.Position(d.End())
			st.fns = append(st.fns, fn{name: pkg + "." + name, pos: fmt.Sprintf("%s:%d", path, start.Line),
				lines: end.Line - start.Line + 1, cyclo: cyclo(d)})
		case *ast.GenDecl:
			for _, s := range d.Specs {
				ts, ok := s.(*ast.TypeSpec)
				if !ok || pkg != "server" || ts.Name.Name != "Config" {
					continue
				}
				if s, ok := ts.Type.(*ast.StructType); ok {
					for _, fl := range s.Fields.List {
						st.configFields += max(1, len(fl.Names))
					}
				}
			}
		}
	}
}

func recvName(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.StarExpr:
		return recvName(t.X)
	case *ast.IndexExpr:
		return recvName(t.X)
	case *ast.IndexListExpr:
		return recvName(t.X)
	case *ast.Ident:
		return t.Name
	}
	return "?"
}

// cyclo is gocyclo's count: 1 plus one for each branch point.
func cyclo(d ast.Node) int {
	n := 1
	ast.Inspect(d, func(x ast.Node) bool {
		switch x := x.(type) {
		case *ast.IfStmt, *ast.ForStmt, *ast.RangeStmt:
			n++
		case *ast.CaseClause:
			if x.List != nil {
				n++
			}
		case *ast.CommClause:
			if x.Comm != nil {
				n++
			}
		case *ast.BinaryExpr:
			if x.Op == token.LAND || x.Op == token.LOR {
				n++
			}
		}
		return true
	})
	return n
}

func (st *stats) print() {
	fns := st.fns
	slices.SortFunc(fns, func(a, b fn) int { return cmp.Or(b.lines-a.lines, strings.Compare(a.name, b.name)) })
	over := 0
	for _, f := range fns {
		if f.lines > 80 {
			over++
		}
	}
	fmt.Printf("functions: %d; over 80 lines: %d\n", len(fns), over)
	for _, f := range fns[:min(5, len(fns))] {
		fmt.Printf("  %4d lines  %s (%s)\n", f.lines, f.name, f.pos)
	}
	for _, f := range fns {
		if f.lines > 80 && !slices.Contains(fns[:min(5, len(fns))], f) {
			fmt.Printf("  %4d lines  %s (%s)\n", f.lines, f.name, f.pos)
		}
	}
	byCyclo := slices.Clone(fns)
	slices.SortFunc(byCyclo, func(a, b fn) int { return cmp.Or(b.cyclo-a.cyclo, strings.Compare(a.name, b.name)) })
	fmt.Printf("max cyclomatic complexity: %d (%s)\n", byCyclo[0].cyclo, byCyclo[0].name)
	for _, dir := range []string{"team", "server"} {
		for _, f := range byCyclo {
			if strings.HasPrefix(f.name, dir+".") || strings.HasPrefix(f.name, dir+"/") {
				fmt.Printf("max cyclomatic complexity in %s/: %d (%s)\n", dir, f.cyclo, f.name)
				break
			}
		}
		var high []string
		for _, f := range byCyclo {
			if (strings.HasPrefix(f.name, dir+".") || strings.HasPrefix(f.name, dir+"/")) && f.cyclo > 20 {
				high = append(high, fmt.Sprintf("%s %d", f.name, f.cyclo))
			}
		}
		fmt.Printf("  over 20 in %s/: %d %v\n", dir, len(high), high)
		for _, f := range fns { // longest first
			if strings.HasPrefix(f.name, dir+".") || strings.HasPrefix(f.name, dir+"/") {
				fmt.Printf("longest function in %s/: %d lines (%s)\n", dir, f.lines, f.name)
				break
			}
		}
	}
	fmt.Printf("methods on server.Server: %d\n", st.serverMethods)
	fmt.Printf("fields of server.Config: %d\n", st.configFields)
	var back []string
	for pkg, imps := range st.imports {
		for imp := range imps {
			if floor(imp) > floor(pkg) {
				back = append(back, fmt.Sprintf("%s (floor %d) -> %s (floor %d)", pkg, floor(pkg), imp, floor(imp)))
			}
		}
	}
	slices.Sort(back)
	fmt.Printf("import back-edges: %d\n", len(back))
	for _, b := range back {
		fmt.Println("  " + b)
	}
}
