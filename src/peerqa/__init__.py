"""peerqa: cited, verbatim answers over peer-support evidence."""
