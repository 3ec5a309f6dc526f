"""What is in the videos bucket: a store-day's videos and their manifest (for `raw_videos`), and a
cursor scan of the whole bucket (for `new_video_sensor`). Plain functions over a boto3 client."""
