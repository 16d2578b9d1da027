import GGFetch

FetchTool.main()
