package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestAPIUnchanged fails when the exported API of a public package differs
// from its checked-in listing, so that every change to it is made on
// purpose, with the listing's diff in the same commit.
func TestAPIUnchanged(t *testing.T) {
	for _, p := range Packages {
		t.Run(filepath.Base(p.File), func(t *testing.T) {
			got, err := Listing(p.Path)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ReadListing(filepath.Join("..", "..", p.File))
			if err != nil {
				t.Fatal(err)
			}
			if d := Diff(want, got); d != "" {
				t.Errorf("the exported API of %s differs from %s (+ in the code only, - in the listing only):\n%s"+
					"If the change is intended, update the listing and commit it with the change:\n\t%s",
					p.Path, p.File, d, UpdateCommand)
			}
		})
	}
}

// listSource type-checks one file of Go source with no imports and lists
// its exported API.
func listSource(t *testing.T, src string) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := new(types.Config).Check("example.com/p", fset, []*ast.File{f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return describe(pkg)
}

func TestListingNamesEveryExportedDeclaration(t *testing.T) {
	got := listSource(t, `package p
const C = 3
const D, e = "d", 1
var V []int
type T struct {
	A int
	b int
	*E
}
type E struct{ X string }
func (E) Promoted() {}
func (*T) M(n int, s ...string) (bool, error) { return false, nil }
func (T) v() {}
type I interface{ Do(x int) error; hidden() }
type F func(t T) error
var G func(n int, f func(s string)) bool
type Alias = T
func New[K comparable](k K) *T { return nil }
func unexported() {}
`)
	want := []string{
		"pkg example.com/p, const C untyped int = 3",
		`pkg example.com/p, const D untyped string = "d"`,
		"pkg example.com/p, func New[K comparable](K) *T",
		"pkg example.com/p, method (*T) M(int, ...string) (bool, error)",
		"pkg example.com/p, method (E) Promoted()",
		"pkg example.com/p, method (T) Promoted()",
		"pkg example.com/p, type Alias = T",
		"pkg example.com/p, type Alias struct",
		"pkg example.com/p, type Alias struct, A int",
		"pkg example.com/p, type Alias struct, embedded *E",
		"pkg example.com/p, method (*Alias) M(int, ...string) (bool, error)",
		"pkg example.com/p, method (Alias) Promoted()",
		"pkg example.com/p, type E struct",
		"pkg example.com/p, type E struct, X string",
		"pkg example.com/p, type F func(T) error",
		"pkg example.com/p, type I interface",
		"pkg example.com/p, type I interface, Do(int) error",
		"pkg example.com/p, type T struct",
		"pkg example.com/p, type T struct, A int",
		"pkg example.com/p, type T struct, embedded *E",
		"pkg example.com/p, var G func(int, func(string)) bool",
		"pkg example.com/p, var V []int",
	}
	slices.Sort(want)
	if d := Diff(want, got); d != "" {
		t.Errorf("listing differs from the expected one:\n%s\ngot:\n%s", d, strings.Join(got, "\n"))
	}
}

func TestListingSeesBreakingChangesOnly(t *testing.T) {
	before := listSource(t, "package p\nfunc Run(ctx string, n int) error { return nil }\n")
	renamed := listSource(t, "package p\nfunc Run(c string, count int) error { return nil }\n")
	if d := Diff(before, renamed); d != "" {
		t.Errorf("renaming parameters changed the listing:\n%s", d)
	}
	changed := listSource(t, "package p\nfunc Run(ctx string, n int64) error { return nil }\n")
	d := Diff(before, changed)
	want := "+ pkg example.com/p, func Run(string, int64) error\n- pkg example.com/p, func Run(string, int) error\n"
	if d != want {
		t.Errorf("changing a parameter's type gave the difference\n%s\nwant\n%s", d, want)
	}
}
