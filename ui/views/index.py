"""index page (wired when its library lands)."""

import streamlit as st

st.title("Index")
