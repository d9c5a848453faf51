package logmodel

import "testing"

func TestLabelsStringAndCompare(t *testing.T) {
	a := FromPairs("app", "api", "pod", `p"1`)
	if got := a.String(); got != `{app="api", pod="p\"1"}` {
		t.Fatalf("String: %s", got)
	}
	if got := string(a.AppendString([]byte("x"))); got != `x{app="api", pod="p\"1"}` {
		t.Fatalf("AppendString: %s", got)
	}
	for _, tc := range []struct {
		a, b Labels
		want int
	}{
		{a, a.Copy(), 0},
		{FromPairs("app", "api"), a, -1},
		{a, FromPairs("app", "api"), 1},
		{FromPairs("app", "b"), FromPairs("app", "a", "pod", "x"), 1},
		{FromPairs("a", "z"), FromPairs("b", "a"), -1},
		{nil, nil, 0},
	} {
		if got := tc.a.Compare(tc.b); got != tc.want {
			t.Errorf("%v.Compare(%v) = %d; want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
