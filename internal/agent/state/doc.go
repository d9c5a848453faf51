// Package state keeps what kubelog agent knows about the node's container log
// files between runs: which file a path under /var/log/pods names
// (ParsePath), which file an open descriptor is even when the kubelet has
// rotated it or the inode has been reused (Identity), and how far into each
// file the server has acknowledged lines (State, saved atomically with Save
// and read back with Load).
package state
