"""``python -m sensorfusion_rosbag.sample OUT [--storage mcap|sqlite3|ros1]``: write the sample bag."""

from ._sample import main

if __name__ == "__main__":
    raise SystemExit(main())
