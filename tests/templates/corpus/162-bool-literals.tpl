{{ true }} {{ false }}
