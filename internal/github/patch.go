package github

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
)

// hunkRE is the header of a hunk of a unified diff.
var hunkRE = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@`)

// patchSides returns both sides of a file's patch, as GitHub's comparison
// lists it, when the patch is one hunk that starts at the first line of each
// side: then each side may be the whole file. Nothing here says that it is,
// since a hunk need not reach the file's end; a side is only worth keeping
// under the blob SHA of its own bytes, which a tree entry names exactly when
// the side is the whole file. A side without lines is nil.
func patchSides(patch string) (before, after []byte, ok bool) {
	lines := strings.Split(strings.TrimSuffix(patch, "\n"), "\n")
	m := hunkRE.FindStringSubmatch(lines[0])
	if m == nil {
		return nil, nil, false
	}
	oldStart, oldCount := hunkRange(m[1], m[2])
	newStart, newCount := hunkRange(m[3], m[4])
	if !fromTop(oldStart, oldCount) || !fromTop(newStart, newCount) {
		return nil, nil, false
	}
	var old, new bytes.Buffer
	var oldLines, newLines int
	// last is the sides the previous line went to, for a "\ No newline at
	// end of file" that follows it.
	var last []*bytes.Buffer
	for _, l := range lines[1:] {
		if l == "" {
			return nil, nil, false
		}
		switch l[0] {
		case ' ':
			old.WriteString(l[1:] + "\n")
			new.WriteString(l[1:] + "\n")
			oldLines, newLines = oldLines+1, newLines+1
			last = []*bytes.Buffer{&old, &new}
		case '-':
			old.WriteString(l[1:] + "\n")
			oldLines++
			last = []*bytes.Buffer{&old}
		case '+':
			new.WriteString(l[1:] + "\n")
			newLines++
			last = []*bytes.Buffer{&new}
		case '\\':
			if last == nil {
				return nil, nil, false
			}
			for _, b := range last {
				b.Truncate(b.Len() - 1)
			}
			last = nil
		default: // another hunk, or not a patch at all
			return nil, nil, false
		}
	}
	if oldLines != oldCount || newLines != newCount {
		return nil, nil, false
	}
	if oldLines > 0 {
		before = old.Bytes()
	}
	if newLines > 0 {
		after = new.Bytes()
	}
	return before, after, true
}

// hunkRange reads a side of a hunk header: a start line and a count, which
// is 1 when left out.
func hunkRange(start, count string) (int, int) {
	s, _ := strconv.Atoi(start)
	n := 1
	if count != "" {
		n, _ = strconv.Atoi(count)
	}
	return s, n
}

// fromTop reports whether a side of a hunk starts at the file's first line:
// line 1, or line 0 of a side without lines (an added or removed file).
func fromTop(start, count int) bool {
	return start == 1 || start == 0 && count == 0
}
