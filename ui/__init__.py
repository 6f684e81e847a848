"""The Streamlit app (``streamlit run ui/app.py``): pages that call the same library functions as the CLI."""
