import GGServe

ServeTool.main()
