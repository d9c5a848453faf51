package state

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrBadPath is wrapped by every error of ParsePath: the path is not one of a
// container's log files under the pods root.
var ErrBadPath = errors.New("not a pod log path")

// RotationLayout is the layout of the timestamp the kubelet appends when it
// rotates a container's live log file (0.log becomes 0.log.20261207-101500).
const RotationLayout = "20060102-150405"

// Source is what the path of a container's log file tells:
// <root>/<Namespace>_<Pod>_<UID>/<Container>/<Restart>.log[.<Rotation>[.gz]].
type Source struct {
	Namespace string // a DNS label
	Pod       string // a DNS subdomain
	UID       string // the pod's UID (a UUID, or a config hash for a static pod)
	Container string // a DNS label
	Restart   int    // the container's restart count
	// Rotation is the timestamp the kubelet gave the file when it rotated it,
	// in RotationLayout, or "" for the live file.
	Rotation string
	// Compressed tells that the rotated file is gzipped (its name ends in .gz).
	Compressed bool
}

// Path returns the path of the file under root that s names; ParsePath(root,
// s.Path(root)) returns s for any s that ParsePath returned.
func (s Source) Path(root string) string {
	var b strings.Builder
	b.WriteString(rootPrefix(root))
	b.WriteString(s.Namespace)
	b.WriteByte('_')
	b.WriteString(s.Pod)
	b.WriteByte('_')
	b.WriteString(s.UID)
	b.WriteByte('/')
	b.WriteString(s.Container)
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(s.Restart))
	b.WriteString(".log")
	if s.Rotation != "" {
		b.WriteByte('.')
		b.WriteString(s.Rotation)
		if s.Compressed {
			b.WriteString(".gz")
		}
	}
	return b.String()
}

// rootPrefix returns root, cleaned, with one trailing separator.
func rootPrefix(root string) string {
	root = filepath.Clean(root)
	if strings.HasSuffix(root, "/") {
		return root
	}
	return root + "/"
}

// ParsePath parses path, a container's log file under root, the pods
// directory (/var/log/pods). root is cleaned; path is taken as written, so a
// path with doubled or trailing separators, "." or ".." is refused, as is the
// temporary file the kubelet writes while it compresses a rotated file. Every
// error wraps ErrBadPath and names the part that is wrong.
func ParsePath(root, path string) (Source, error) {
	var s Source
	fail := func(format string, args ...any) (Source, error) {
		return Source{}, fmt.Errorf("state: %q: %s: %w", path, fmt.Sprintf(format, args...), ErrBadPath)
	}
	clean := filepath.Clean(root)
	rel, ok := strings.CutPrefix(path, clean)
	if ok && !strings.HasSuffix(clean, "/") {
		rel, ok = strings.CutPrefix(rel, "/")
	}
	if !ok {
		return fail("not under %q", clean)
	}
	podDir, rest, ok := strings.Cut(rel, "/")
	if !ok {
		return fail("want <namespace>_<pod>_<uid>/<container>/<file>")
	}
	container, file, ok := strings.Cut(rest, "/")
	if !ok || strings.Contains(file, "/") {
		return fail("want <namespace>_<pod>_<uid>/<container>/<file>")
	}

	var ok1, ok2 bool
	s.Namespace, s.Pod, ok1 = strings.Cut(podDir, "_")
	s.Pod, s.UID, ok2 = strings.Cut(s.Pod, "_")
	if !ok1 || !ok2 || strings.Contains(s.UID, "_") {
		return fail("pod directory %q is not <namespace>_<pod>_<uid>", podDir)
	}
	if !isDNSLabel(s.Namespace) {
		return fail("namespace %q is not a DNS label", s.Namespace)
	}
	if !isDNSSubdomain(s.Pod) {
		return fail("pod name %q is not a DNS subdomain", s.Pod)
	}
	if !isUID(s.UID) {
		return fail("pod UID %q is not 1 to 64 letters, digits and dashes", s.UID)
	}
	s.Container = container
	if !isDNSLabel(s.Container) {
		return fail("container name %q is not a DNS label", s.Container)
	}

	restart, suffix, ok := strings.Cut(file, ".log")
	if !ok {
		return fail("file name %q is not <restart>.log[.<timestamp>[.gz]]", file)
	}
	n, err := strconv.ParseInt(restart, 10, 32)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != restart {
		return fail("restart count %q is not a decimal number", restart)
	}
	s.Restart = int(n)
	if suffix == "" {
		return s, nil
	}
	rotation, ok := strings.CutPrefix(suffix, ".")
	if !ok {
		return fail("file name %q is not <restart>.log[.<timestamp>[.gz]]", file)
	}
	rotation, s.Compressed = strings.CutSuffix(rotation, ".gz")
	if !isRotation(rotation) {
		return fail("rotation suffix %q is not a timestamp like %s", rotation, RotationLayout)
	}
	s.Rotation = rotation
	return s, nil
}

// isRotation tells whether v is a time in RotationLayout, written as the
// kubelet writes it.
func isRotation(v string) bool {
	if len(v) != len(RotationLayout) {
		return false
	}
	t, err := time.Parse(RotationLayout, v)
	var buf [len(RotationLayout)]byte
	return err == nil && string(t.AppendFormat(buf[:0], RotationLayout)) == v
}

// isDNSLabel tells whether v is an RFC 1123 label: 1 to 63 lowercase letters,
// digits and dashes, starting and ending with a letter or digit.
func isDNSLabel(v string) bool {
	return len(v) <= 63 && isLabel(v)
}

// isDNSSubdomain tells whether v is an RFC 1123 subdomain as Kubernetes
// validates object names: at most 253 characters of dot-separated labels (of
// any length).
func isDNSSubdomain(v string) bool {
	if len(v) > 253 {
		return false
	}
	for part := range strings.SplitSeq(v, ".") {
		if !isLabel(part) {
			return false
		}
	}
	return true
}

// isLabel tells whether v is lowercase letters, digits and dashes, starting
// and ending with a letter or digit.
func isLabel(v string) bool {
	if v == "" || v[0] == '-' || v[len(v)-1] == '-' {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isUID tells whether v can be a pod UID: a UUID, or the hex config hash the
// kubelet gives a static pod; 1 to 64 letters, digits and dashes.
func isUID(v string) bool {
	if len(v) == 0 || len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
