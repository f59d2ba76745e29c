package topology

// unprefixed are the names of a deployment without a prefix.
var unprefixed Names
