"""The app's service: what the Gradio UI calls, with no UI code of its own."""
