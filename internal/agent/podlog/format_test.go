package podlog

import "testing"

func TestDetect(t *testing.T) {
	f := func(in string, want Format) {
		t.Helper()
		if got := Detect([]byte(in)); got != want {
			t.Fatalf("Detect(%q) = %v; want %v", in, got, want)
		}
	}
	f(ts1+" stdout F hi\n", FormatCRI)
	f(ts2+" stderr P", FormatCRI)
	f(`{"log":"hi\n","stream":"stdout","time":"`+ts1+`"}`, FormatDocker)
	f("{", FormatDocker)
	f("", FormatUnknown)
	f(ts1, FormatUnknown)
	f(ts1+" stdin F x\n", FormatUnknown)
	f("hello world\n", FormatUnknown)
}
