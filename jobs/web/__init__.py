"""The read-only web view (`newsmon serve`)."""
