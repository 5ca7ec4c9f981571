// Command apicheck lists the exported API of the module's public packages,
// one line per exported declaration, and compares it with the listings
// checked in under api/, so that a change to the public API is always a
// decision made on purpose.
//
// Usage, from anywhere in the module:
//
//	go run ./internal/apicheck      # compare; exit 1 and print the difference if any
//	go run ./internal/apicheck -w   # rewrite the listings from the code
//
// Each package is read from the compiler's export data (go list -export),
// so the listing is what users of the package can name: functions with
// their parameter and result types (not names, which may change freely),
// types, their exported fields and embedded types, the method set of T and
// *T including promoted methods, interface methods, constants with their
// types and values, and variables. The lines are sorted, so a listing's
// diff shows exactly what changed.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/constant"
	"go/importer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Packages are the module's public packages and the files listing them,
// relative to the module's root.
var Packages = []struct{ Path, File string }{
	{"github.com/bitscale/bitscale-go", "api/bitscale.txt"},
	{"github.com/bitscale/bitscale-go/bitscaletest", "api/bitscaletest.txt"},
}

// UpdateCommand is the command that rewrites the listings.
const UpdateCommand = "go run ./internal/apicheck -w"

func main() {
	write := flag.Bool("w", false, "rewrite the listings under api/ instead of comparing")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: go run ./internal/apicheck [-w]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*write, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "apicheck:", err)
		os.Exit(1)
	}
}

func run(write bool, out io.Writer) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	var failed bool
	for _, p := range Packages {
		got, err := Listing(p.Path)
		if err != nil {
			return err
		}
		file := filepath.Join(root, p.File)
		if write {
			if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
				return err
			}
			if err := os.WriteFile(file, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
				return err
			}
			fmt.Fprintf(out, "wrote %s (%d lines)\n", p.File, len(got))
			continue
		}
		want, err := ReadListing(file)
		if err != nil {
			return err
		}
		if d := Diff(want, got); d != "" {
			failed = true
			fmt.Fprintf(out, "%s differs from the exported API of %s:\n%s", p.File, p.Path, d)
		}
	}
	if failed {
		return fmt.Errorf("the exported API differs from the listings; if the change is intended, run: %s", UpdateCommand)
	}
	return nil
}

// moduleRoot returns the directory of the main module.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a module")
	}
	return filepath.Dir(gomod), nil
}

// ReadListing reads a listing file: one line per declaration, blank lines
// ignored. A missing file reads as an empty listing.
func ReadListing(file string) ([]string, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, sc.Err()
}

// Diff returns the lines only in got, marked "+", and the lines only in
// want, marked "-", one per line; "" when the two hold the same lines.
func Diff(want, got []string) string {
	in := func(lines []string) map[string]bool {
		m := make(map[string]bool, len(lines))
		for _, l := range lines {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range got {
		if !w[l] {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	for _, l := range want {
		if !g[l] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	return b.String()
}

// Listing returns the sorted lines describing the exported API of the
// package with the given import path, which must be in the main module or
// its dependencies. It fails when the package does not build.
func Listing(path string) ([]string, error) {
	pkg, err := load(path)
	if err != nil {
		return nil, err
	}
	return describe(pkg), nil
}

// load imports a package from the export data the go command builds.
func load(path string) (*types.Package, error) {
	cmd := exec.Command("go", "list", "-export", "-deps", "-f", "{{if .Export}}{{.ImportPath}}\t{{.Export}}{{end}}", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list %s: %v\n%s", path, err, stderr.Bytes())
	}
	exports := make(map[string]string)
	for line := range strings.Lines(string(out)) {
		if ip, file, ok := strings.Cut(strings.TrimSpace(line), "\t"); ok {
			exports[ip] = file
		}
	}
	lookup := func(ip string) (io.ReadCloser, error) {
		file, ok := exports[ip]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", ip)
		}
		return os.Open(file)
	}
	imp := importer.ForCompiler(token.NewFileSet(), "gc", lookup)
	pkg, err := imp.Import(path)
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", path, err)
	}
	return pkg, nil
}

// describe lists a package's exported declarations.
func describe(pkg *types.Package) []string {
	prefix := "pkg " + pkg.Path() + ", "
	qual := func(p *types.Package) string {
		if p == pkg {
			return ""
		}
		return p.Name()
	}
	typ := func(t types.Type) string { return typeString(t, qual) }

	var lines []string
	add := func(format string, args ...any) {
		lines = append(lines, prefix+fmt.Sprintf(format, args...))
	}
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		if !obj.Exported() {
			continue
		}
		switch obj := obj.(type) {
		case *types.Const:
			add("const %s %s = %s", name, typ(obj.Type()), constValue(obj.Val()))
		case *types.Var:
			add("var %s %s", name, typ(obj.Type()))
		case *types.Func:
			add("func %s%s", name, signature(obj.Type().(*types.Signature), qual))
		case *types.TypeName:
			describeType(name, obj, qual, add)
		}
	}
	slices.Sort(lines)
	return slices.Compact(lines)
}

// describeType lists a type, its fields or interface methods, and its
// method sets.
func describeType(name string, obj *types.TypeName, qual types.Qualifier, add func(string, ...any)) {
	typ := func(t types.Type) string { return typeString(t, qual) }
	t := obj.Type()
	if obj.IsAlias() {
		add("type %s = %s", name, typ(types.Unalias(t)))
		t = types.Unalias(t)
	}
	under := t.Underlying()
	switch u := under.(type) {
	case *types.Struct:
		add("type %s struct", name)
		for f := range u.Fields() {
			if !f.Exported() {
				continue
			}
			if f.Embedded() {
				add("type %s struct, embedded %s", name, typ(f.Type()))
			} else {
				add("type %s struct, %s %s", name, f.Name(), typ(f.Type()))
			}
		}
	case *types.Interface:
		add("type %s interface", name)
		for m := range u.Methods() {
			if m.Exported() {
				add("type %s interface, %s%s", name, m.Name(), signature(m.Type().(*types.Signature), qual))
			}
		}
		for e := range u.EmbeddedTypes() {
			add("type %s interface, embedded %s", name, typ(e))
		}
	default:
		if !obj.IsAlias() {
			add("type %s %s", name, typ(under))
		}
	}
	if _, ok := under.(*types.Interface); ok {
		return
	}
	// The method sets of T and *T, promoted methods included.
	value := types.NewMethodSet(t)
	inValue := make(map[string]bool)
	for sel := range value.Methods() {
		inValue[sel.Obj().Name()] = true
	}
	for sel := range types.NewMethodSet(types.NewPointer(t)).Methods() {
		m := sel.Obj()
		if !m.Exported() {
			continue
		}
		recv := "*" + name
		if inValue[m.Name()] {
			recv = name
		}
		add("method (%s) %s%s", recv, m.Name(), signature(m.Type().(*types.Signature), qual))
	}
}

// typeString writes a type; a function type is written without its
// parameters' names.
func typeString(t types.Type, qual types.Qualifier) string {
	if sig, ok := t.(*types.Signature); ok {
		return "func" + signature(sig, qual)
	}
	return types.TypeString(t, qual)
}

// signature writes a function's parameters and results by type only, so
// that renaming a parameter is not an API change.
func signature(sig *types.Signature, qual types.Qualifier) string {
	tuple := func(t *types.Tuple, variadic bool) []string {
		var s []string
		for i := range t.Len() {
			v := t.At(i).Type()
			if variadic && i == t.Len()-1 {
				s = append(s, "..."+typeString(v.(*types.Slice).Elem(), qual))
				continue
			}
			s = append(s, typeString(v, qual))
		}
		return s
	}
	var b strings.Builder
	if tp := sig.TypeParams(); tp != nil && tp.Len() > 0 {
		b.WriteString("[")
		for i := range tp.Len() {
			if i > 0 {
				b.WriteString(", ")
			}
			p := tp.At(i)
			b.WriteString(p.Obj().Name() + " " + types.TypeString(p.Constraint(), qual))
		}
		b.WriteString("]")
	}
	b.WriteString("(" + strings.Join(tuple(sig.Params(), sig.Variadic()), ", ") + ")")
	res := tuple(sig.Results(), false)
	switch len(res) {
	case 0:
	case 1:
		b.WriteString(" " + res[0])
	default:
		b.WriteString(" (" + strings.Join(res, ", ") + ")")
	}
	return b.String()
}

// constValue writes a constant's value as Go source would.
func constValue(v constant.Value) string {
	if v.Kind() == constant.String {
		return v.ExactString()
	}
	return v.String()
}
