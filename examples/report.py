#!/usr/bin/env python3
"""An example job: it reads its API key from the environment, where `secretfile exec` puts it.

Run it as its cron line or systemd unit does:

    secretfile exec --only MERAKI_API_KEY -- /usr/bin/python3 /opt/jobs/report.py

The job never knows secretfile exists: os.environ holds the key for as long as the job runs, and nothing is
written to disk. To prove the right key arrived without showing it, the job prints the first 12 hex digits of
its SHA-256. It calls an API only when REPORT_URL is set and --dry-run is not given, so as shipped it needs no
network.
"""

import hashlib
import os
import sys
import urllib.request

KEY_NAME = "MERAKI_API_KEY"


def main(argv):
    key = os.environ.get(KEY_NAME)
    if not key:
        print("report.py: %s is not set: run me as `secretfile exec --only %s -- python3 %s`" % (KEY_NAME, KEY_NAME, argv[0]),
              file=sys.stderr)
        return 78  # EX_CONFIG: cron mails this line to the job's owner
    fingerprint = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    url = os.environ.get("REPORT_URL")
    if url is None or "--dry-run" in argv[1:]:
        print("report: %s sha256:%s; dry run, no API called%s" % (KEY_NAME, fingerprint, "" if url is None else " (would call %s)" % url))
        return 0
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + key, "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        print("report: %s answered %d (%s sha256:%s)" % (url, answer.status, KEY_NAME, fingerprint))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
